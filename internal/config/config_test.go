package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mathesar.env")
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence covers every combination of sources for one key, with and without
// --prefer-exported-env. present lists the sources that set the key: F(lag), C(onfig
// file), E(nvironment), D(efault).
func TestPrecedence(t *testing.T) {
	tests := []struct {
		present           string
		want, wantPrefEnv string // "" means unset
	}{
		{"", "", ""},
		{"D", "D", "D"},
		{"E", "E", "E"},
		{"ED", "E", "E"},
		{"C", "C", "C"},
		{"CD", "C", "C"},
		{"CE", "C", "E"},
		{"CED", "C", "E"},
		{"F", "F", "F"},
		{"FD", "F", "F"},
		{"FE", "F", "F"},
		{"FED", "F", "F"},
		{"FC", "F", "F"},
		{"FCD", "F", "F"},
		{"FCE", "F", "F"},
		{"FCED", "F", "F"},
	}
	values := map[byte]string{'F': "8001", 'C': "8002", 'E': "8003", 'D': "8004"}
	sources := map[byte]Source{'F': Flag, 'C': ConfigFile, 'E': Environment, 'D': Default}
	for _, tt := range tests {
		for _, prefer := range []bool{false, true} {
			name := tt.present
			if name == "" {
				name = "none"
			}
			if prefer {
				name += "/prefer-env"
			}
			t.Run(name, func(t *testing.T) {
				r := Resolver{File: writeFile(t, "# port\nPOSTGRES_DB=x\n"), Environ: []string{"PATH=/usr/bin"}, PreferEnv: prefer}
				if strings.Contains(tt.present, "C") {
					r.File = writeFile(t, "# port\nPOSTGRES_DB=x\nMATHESAR_PORT="+values['C']+"\n")
				}
				if strings.Contains(tt.present, "E") {
					r.Environ = append(r.Environ, "MATHESAR_PORT="+values['E'])
				}
				if strings.Contains(tt.present, "F") {
					r.Flags = map[string]string{"MATHESAR_PORT": values['F']}
				}
				if strings.Contains(tt.present, "D") {
					r.Defaults = map[string]string{"MATHESAR_PORT": values['D']}
				}
				res, warns, err := r.Resolve()
				if err != nil {
					t.Fatal(err)
				}
				if len(warns) != 0 {
					t.Errorf("warnings: %v", warns)
				}
				want := tt.want
				if prefer {
					want = tt.wantPrefEnv
				}
				s, ok := res.Get("MATHESAR_PORT")
				if want == "" {
					if ok {
						t.Fatalf("MATHESAR_PORT set to %+v, want unset", s)
					}
					return
				}
				if !ok || s.Value != values[want[0]] || s.Source != sources[want[0]] {
					t.Fatalf("MATHESAR_PORT = %+v, want value %s from %v", s, values[want[0]], sources[want[0]])
				}
				wantOrigin := map[byte]string{'F': "flag --port", 'C': r.File + ":3", 'E': "environment", 'D': "default"}[want[0]]
				if s.Origin != wantOrigin {
					t.Errorf("origin = %q, want %q", s.Origin, wantOrigin)
				}
				if !contains(res.Environ(), "MATHESAR_PORT="+values[want[0]]) {
					t.Errorf("Environ() lacks MATHESAR_PORT=%s: %v", values[want[0]], res.Environ())
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestResolveEnvironAndAll(t *testing.T) {
	file := writeFile(t, "POSTGRES_DB=fromfile\nSECRET_KEY='s3cret'\nNOT_MATHESAR=kept\n")
	r := Resolver{
		File:     file,
		Environ:  []string{"PATH=/usr/bin", "POSTGRES_DB=fromenv", "HOME=/root", "AZURE_ACCOUNT_NAME=acct"},
		Defaults: map[string]string{"WEB_CONCURRENCY": "3"},
	}
	res, _, err := r.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"AZURE_ACCOUNT_NAME=acct", "HOME=/root", "NOT_MATHESAR=kept", "PATH=/usr/bin",
		"POSTGRES_DB=fromfile", "SECRET_KEY=s3cret", "WEB_CONCURRENCY=3"}
	if got := res.Environ(); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("Environ() = %v\nwant %v", got, wantEnv)
	}
	var keys []string
	for _, s := range res.All() {
		keys = append(keys, s.Key)
	}
	if want := []string{"AZURE_ACCOUNT_NAME", "NOT_MATHESAR", "POSTGRES_DB", "SECRET_KEY", "WEB_CONCURRENCY"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("All() keys = %v, want %v", keys, want)
	}
	if !sort.StringsAreSorted(keys) {
		t.Error("All() is not sorted")
	}
	if s, _ := res.Get("SECRET_KEY"); !s.Secret || s.Origin != file+":2" {
		t.Errorf("SECRET_KEY = %+v, want secret from line 2", s)
	}
	if !res.FileExists {
		t.Error("FileExists = false for an existing file")
	}
}

func TestResolveMissingFile(t *testing.T) {
	res, warns, err := Resolver{File: filepath.Join(t.TempDir(), "absent.env"), Environ: []string{"POSTGRES_DB=e"}}.Resolve()
	if err != nil || len(warns) != 0 || res.FileExists {
		t.Fatalf("res=%+v warns=%v err=%v", res, warns, err)
	}
	if s, _ := res.Get("POSTGRES_DB"); s.Source != Environment {
		t.Errorf("POSTGRES_DB = %+v", s)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		r       Resolver
		wantErr string
	}{
		{"file systemd refuses", Resolver{File: writeFile(t, "A=1\nB=\xff\n")}, "mathesar.env:2: invalid UTF-8"},
		{"flag for a key that is no setting", Resolver{Flags: map[string]string{"PORT": "1"}}, "PORT, which is not a setting"},
		{"unreadable file", Resolver{File: t.TempDir()}, "read config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.r.Resolve()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	file := writeFile(t, "POSTGRES_DB=m\nPOSGRES_USER=typo\nMATHESAR_CONFIG=/x\nexport DEBUG=1\nAZURE_CONTAINER=c\nMATHESAR_PORT=1\nMATHESAR_PORT=2\n")
	_, warns, err := Resolver{File: file, Environ: []string{"MATHESAR_PROT=1", "MATHESAR_CONFIG=/y", "UNRELATED=1"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	want := []string{
		"unknown key POSGRES_USER in " + file + ":2 (Mathesar ignores it; check the spelling)",
		"MATHESAR_CONFIG in " + file + ":3 has no effect there; set it in the environment instead, or delete the line",
		file + ":4: invalid variable name \"export DEBUG\", so systemd ignores this assignment; remove the leading \"export\", which systemd does not understand",
		file + ":6: MATHESAR_PORT is set again on line 7, which wins; delete one of the two",
		"unknown key MATHESAR_PROT in the environment (the launcher ignores it; check the spelling)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"SECRET_KEY", "abc", Masked},
		{"POSTGRES_PASSWORD", "p", Masked},
		{"AZURE_ACCOUNT_KEY", "k", Masked},
		{"AZURE_SAS_TOKEN", "t", Masked},
		{"SECRET_KEY", "", ""},
		{"POSTGRES_DB", "mathesar_django", "mathesar_django"},
		{"SSO_CONFIG_DICT", `{"oidc": {"client_secret": "s3cr3t", "name": "n", "keys": ["a"]}}`,
			`{"oidc":{"client_secret":"********","keys":"********","name":"n"}}`},
		{"FILE_STORAGE_DICT", `{"default": {"protocol": "s3", "options": {"key": "AKIA", "secret": "hunter2", "endpoint_url": "https://a&b"}}}`,
			`{"default":{"options":{"endpoint_url":"https://a&b","key":"********","secret":"********"},"protocol":"s3"}}`},
		{"OIDC_CONFIG_DICT", `{"name": "plain"}`, `{"name": "plain"}`},
		{"OIDC_CONFIG_DICT", `{not json password=hunter2 x}`, `{not json password=******** x}`},
		{"DOMAIN_NAME", "postgres://mathesar:hunter2@db:5432/x", "postgres://mathesar:********@db:5432/x"},
		{"AZURE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;EndpointSuffix=core.windows.net",
			"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=********;EndpointSuffix=core.windows.net"},
		{"DATA_FILES_STORAGE_BACKEND", "host=db password=hunter2 user=m", "host=db password=******** user=m"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.value, func(t *testing.T) {
			s := Setting{Key: tt.key, Value: tt.value, Secret: IsSecret(tt.key)}
			got := Mask(s)
			if got != tt.want {
				t.Errorf("Mask = %q, want %q", got, tt.want)
			}
			for _, secret := range []string{"hunter2", "s3cr3t", "AKIA", "Zm9v"} {
				if strings.Contains(got, secret) {
					t.Errorf("secret %s leaked: %q", secret, got)
				}
			}
		})
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		name                string
		mathesarConfig, xdg string
		home                string
		system              bool
		want                string
		wantErr             bool
	}{
		{"override wins over system", "/srv/m.env", "", "/home/u", true, "/srv/m.env", false},
		{"override wins over user", "/srv/m.env", "/x", "/home/u", false, "/srv/m.env", false},
		{"system", "", "/x", "/home/u", true, SystemFile, false},
		{"xdg", "", "/xdg", "/home/u", false, "/xdg/mathesar/mathesar.env", false},
		{"relative xdg is ignored", "", "rel", "/home/u", false, "/home/u/.config/mathesar/mathesar.env", false},
		{"home", "", "", "/home/u", false, "/home/u/.config/mathesar/mathesar.env", false},
		{"nothing", "", "", "", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MATHESAR_CONFIG", tt.mathesarConfig)
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := Path(tt.system)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Path(%v) = %q, %v; want %q (error %v)", tt.system, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "MATHESAR_CONFIG") {
				t.Errorf("error %q does not name the fix", err)
			}
		})
	}
}

func TestCheckPermissions(t *testing.T) {
	for _, tt := range []struct {
		mode    os.FileMode
		wantErr bool
	}{{0o600, false}, {0o640, false}, {0o660, false}, {0o644, true}, {0o604, true}, {0o642, true}, {0o601, true}} {
		p := writeFile(t, "SECRET_KEY=x\n")
		if err := os.Chmod(p, tt.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPermissions(p)
		if (err != nil) != tt.wantErr {
			t.Errorf("mode %04o: err = %v, want error %v", tt.mode, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 0640 "+p) {
			t.Errorf("mode %04o: error %q does not name the fix", tt.mode, err)
		}
	}
	if err := CheckPermissions(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestKnown(t *testing.T) {
	keys := Known()
	if !sort.SliceIsSorted(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key }) {
		t.Error("Known() is not sorted")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if k.Description == "" || strings.Contains(k.Description, "\n") || seen[k.Key] {
			t.Errorf("bad or duplicate entry %+v", k)
		}
		seen[k.Key] = true
	}
	for _, k := range []string{"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_HOST", "POSTGRES_PASSWORD", "POSTGRES_PORT",
		"POSTGRES_SSLMODE", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "WEB_CONCURRENCY", "MEDIA_ROOT", "DOMAIN_NAME",
		"SSO_CONFIG_DICT", "OIDC_CONFIG_DICT", "REQUIRE_SSO_LOGIN", "FILE_STORAGE_DICT", "PER_USER_DATABASES_ENABLED",
		"DATA_FILES_STORAGE_BACKEND", "AZURE_ACCOUNT_NAME", "MATHESAR_PORT", "MATHESAR_ADDR", "MATHESAR_PYTHON",
		"MATHESAR_PYZ", "MATHESAR_CACHE_DIR", "MATHESAR_DATA_DIR"} {
		if _, ok := Lookup(k); !ok {
			t.Errorf("Lookup(%s) found nothing", k)
		}
	}
	for _, k := range []string{"AZURE_", "POSTGRES", "MATHESAR_PROT"} {
		if _, ok := Lookup(k); ok {
			t.Errorf("Lookup(%s) found an entry", k)
		}
	}
}

func TestSourceString(t *testing.T) {
	for s, want := range map[Source]string{Default: "default", ConfigFile: "config file", Environment: "environment", Flag: "flag", 9: "Source(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestOriginLess(t *testing.T) {
	in := []string{"environment", "/f:10", "/f:9", "/e:100", "/f:1"}
	sort.SliceStable(in, func(i, j int) bool { return originLess(in[i], in[j]) })
	if want := []string{"/e:100", "/f:1", "/f:9", "/f:10", "environment"}; !reflect.DeepEqual(in, want) {
		t.Errorf("order = %v, want %v", in, want)
	}
}
