package pyreq

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lineSummary renders a Line compactly so whole files compare in one assertion.
func lineSummary(l Line) string {
	s := fmt.Sprintf("%s:%d %s", filepath.ToSlash(l.File), l.Line, l.Requirement)
	if len(l.Hashes) > 0 {
		s += " " + strings.Join(l.Hashes, " ")
	}
	return s
}

func TestParseRequirementsFile(t *testing.T) {
	h1 := "sha256:" + strings.Repeat("1", 64)
	hA := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		path    string
		want    []string
		wantErr []string // each error line, in order, as "file:line: substring"
	}{
		{
			path: "testdata/good/requirements.txt",
			want: []string{
				"testdata/good/requirements.txt:5 Django==4.2.29 " + h1 + " " + hA,
				"testdata/good/requirements.txt:8 psycopg[binary,pool]==3.2.10",
				"testdata/good/base.txt:1 asgiref==3.8.1",
				"testdata/good/base.txt:2 sqlparse==0.5.3",
				`testdata/good/requirements.txt:10 tzdata==2025.2; sys_platform == "win32" and python_version >= "3.10"`,
				"testdata/good/sub/more.txt:1 gunicorn==23.0.0",
				"testdata/good/requirements.txt:14 pyyaml==6.0.2",
			},
		},
		{
			path: "testdata/cycle/a.txt",
			want: []string{"testdata/cycle/a.txt:1 one==1.0", "testdata/cycle/b.txt:1 two==2.0"},
			wantErr: []string{
				"testdata/cycle/b.txt:2: -r testdata/cycle/a.txt: include cycle testdata/cycle/a.txt -> testdata/cycle/b.txt -> testdata/cycle/a.txt",
			},
		},
		{
			path:    "testdata/cycle/self.txt",
			want:    []string{"testdata/cycle/self.txt:2 three==3.0"},
			wantErr: []string{"testdata/cycle/self.txt:1: -r testdata/cycle/self.txt: include cycle"},
		},
		{
			path: "testdata/bad/requirements.txt",
			want: []string{
				"testdata/bad/requirements.txt:1 ok==1.0",
				`testdata/bad/requirements.txt:16 still-ok>=2; python_version < "3.12"`,
			},
			wantErr: []string{
				"testdata/bad/requirements.txt:2: -e: editable installs cannot be bundled",
				"testdata/bad/requirements.txt:3: -i: the bundle build chooses its own package index",
				"testdata/bad/requirements.txt:4: --extra-index-url: the bundle build chooses its own package index",
				"testdata/bad/requirements.txt:5: -f: the bundle build does not read find-links",
				"testdata/bad/requirements.txt:6: -c: constraints files are not supported",
				"testdata/bad/requirements.txt:7: --no-binary: the bundle is built from wheels only",
				"testdata/bad/requirements.txt:8: pkg @ https://example.org/pkg-1.0.whl: direct URL requirements cannot be bundled",
				"testdata/bad/requirements.txt:9: ./local/pkg: URLs and local paths cannot be bundled",
				"testdata/bad/requirements.txt:10: unknown or unsupported option --pre",
				`testdata/bad/requirements.txt:11: --hash "sha256:abc" is not a hash pip accepts`,
				`testdata/bad/requirements.txt:12: requirement "bad==v1": "v1" is not a PEP 440 version`,
				"testdata/bad/requirements.txt:13: --hash: a --hash must follow its requirement on the same line",
				"testdata/bad/requirements.txt:14: -r testdata/bad/missing.txt: open testdata/bad/missing.txt: no such file or directory: fix the path",
				"testdata/bad/requirements.txt:15: option --global-option after a requirement cannot be honoured",
			},
		},
		{
			path:    "testdata/does-not-exist.txt",
			wantErr: []string{"read requirements file: open testdata/does-not-exist.txt: no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			lines, err := ParseRequirementsFile(tt.path)
			var got []string
			for _, l := range lines {
				got = append(got, lineSummary(l))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var gotErr []string
			if err != nil {
				gotErr = strings.Split(err.Error(), "\n")
			}
			if len(gotErr) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%s", len(gotErr), len(tt.wantErr), strings.Join(gotErr, "\n"))
			}
			for i := range gotErr {
				if !strings.HasPrefix(gotErr[i], tt.wantErr[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, gotErr[i], tt.wantErr[i])
				}
			}
		})
	}
}

// TestRequirementsFileSyntax covers the line syntax on small files written per case.
func TestRequirementsFileSyntax(t *testing.T) {
	hex := strings.Repeat("b", 64)
	tests := []struct {
		name, text string
		want       []string // lineSummary without the directory
		wantErr    string
	}{
		{name: "blank and comments", text: "\n  # only a comment\n\nx==1 # trailing\n", want: []string{"r.txt:4 x==1"}},
		{name: "hash glued to comment is not a comment", text: "x==1#nope\n", wantErr: "r.txt:1: requirement \"x==1#nope\""},
		{name: "continuation keeps first line number", text: "\n\\\nx\\\n==1\\\n", want: []string{"r.txt:2 x==1"}},
		{name: "continued line ending in a comment", text: "x==1 \\\n # c\ny==2\n", want: []string{"r.txt:1 x==1", "r.txt:3 y==2"}},
		{name: "crlf and bom", text: "\ufeffx==1\r\ny==2\r\n", want: []string{"r.txt:1 x==1", "r.txt:2 y==2"}},
		{name: "hash forms dedupe and sort", text: "x==1 --hash sha512:" + strings.Repeat("c", 128) + " --hash=sha256:" + hex + " --hash=sha256:" + strings.ToUpper(hex) + "\n",
			want: []string{"r.txt:1 x==1 sha256:" + hex + " sha512:" + strings.Repeat("c", 128)}},
		{name: "hash without value", text: "x==1 --hash\n", wantErr: "r.txt:1: --hash has no value"},
		{name: "md5 hash", text: "x==1 --hash=md5:" + strings.Repeat("0", 32) + "\n", wantErr: "is not a hash pip accepts"},
		{name: "harmless options", text: "--require-hashes\n--prefer-binary\n--only-binary :all:\nx==1\n", want: []string{"r.txt:4 x==1"}},
		{name: "only-binary for some", text: "--only-binary=foo\n", wantErr: "r.txt:1: --only-binary foo: the bundle is built from wheels only"},
		{name: "option with a value it does not take", text: "--require-hashes=yes\n", wantErr: "takes no value"},
		{name: "remote include", text: "-r https://example.org/r.txt\n", wantErr: "remote requirement files are not supported"},
		{name: "include without file", text: "-r\n", wantErr: "r.txt:1: -r needs a value"},
		{name: "wheel file", text: "pkg-1.0-py3-none-any.whl\n", wantErr: "URLs and local paths cannot be bundled"},
		{name: "url", text: "https://example.org/pkg.tar.gz\n", wantErr: "URLs and local paths cannot be bundled"},
		{name: "index url long form", text: "--index-url=https://x\n", wantErr: "r.txt:1: --index-url: the bundle build chooses its own package index"},
		{name: "editable long form", text: "--editable .\n", wantErr: "r.txt:1: --editable: editable installs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "r.txt")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			lines, err := ParseRequirementsFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				got = append(got, strings.TrimPrefix(lineSummary(l), filepath.ToSlash(dir)+"/"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}
