package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestFor(t *testing.T) {
	cases := []struct {
		name         string
		exe          string
		env          map[string]string
		mode         Mode
		config, data string
	}{
		{"deb/rpm install", "/usr/bin/mathesar", map[string]string{"HOME": "/root"}, System, "/etc/mathesar/mathesar.env", "/var/lib/mathesar"},
		{"systemd state directory", "/usr/bin/mathesar", map[string]string{"STATE_DIRECTORY": "/var/lib/mathesar:/var/lib/other"}, System, "/etc/mathesar/mathesar.env", "/var/lib/mathesar"},
		{"tarball", "/opt/mathesar/bin/mathesar", map[string]string{"HOME": "/home/ada"}, User, "/home/ada/.config/mathesar/mathesar.env", "/home/ada/.local/share/mathesar"},
		{"xdg dirs", "/home/ada/mathesar/bin/mathesar", map[string]string{"HOME": "/home/ada", "XDG_CONFIG_HOME": "/cfg", "XDG_DATA_HOME": "/data"}, User, "/cfg/mathesar/mathesar.env", "/data/mathesar"},
		{"relative xdg ignored", "/x/bin/mathesar", map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "rel"}, User, "/h/.config/mathesar/mathesar.env", "/h/.local/share/mathesar"},
		{"homebrew overrides", "/opt/homebrew/Cellar/mathesar/1/libexec/mathesar", map[string]string{"HOME": "/Users/ada", "MATHESAR_CONFIG": "/opt/homebrew/etc/mathesar/mathesar.env", "MATHESAR_DATA_DIR": "/opt/homebrew/var/mathesar"}, User, "/opt/homebrew/etc/mathesar/mathesar.env", "/opt/homebrew/var/mathesar"},
		{"homebrew apple silicon", "/opt/homebrew/Cellar/mathesar/0.10.1-1/libexec/bin/mathesar", map[string]string{"HOME": "/Users/ada"}, User, "/opt/homebrew/etc/mathesar/mathesar.env", "/opt/homebrew/var/mathesar"},
		{"homebrew intel", "/usr/local/Cellar/mathesar/0.10.1-1/libexec/bin/mathesar", map[string]string{"HOME": "/Users/ada", "XDG_CONFIG_HOME": "/cfg"}, User, "/usr/local/etc/mathesar/mathesar.env", "/usr/local/var/mathesar"},
		{"linuxbrew", "/home/linuxbrew/.linuxbrew/Cellar/mathesar/0.1.0+sample-1/libexec/bin/mathesar", map[string]string{"HOME": "/home/ada"}, User, "/home/linuxbrew/.linuxbrew/etc/mathesar/mathesar.env", "/home/linuxbrew/.linuxbrew/var/mathesar"},
		{"homebrew config override only", "/opt/homebrew/Cellar/mathesar/1/libexec/bin/mathesar", map[string]string{"MATHESAR_CONFIG": "/tmp/m.env"}, User, "/tmp/m.env", "/opt/homebrew/var/mathesar"},
		{"homebrew forced system", "/opt/homebrew/Cellar/mathesar/1/libexec/bin/mathesar", map[string]string{"MATHESAR_MODE": "system"}, System, "/etc/mathesar/mathesar.env", "/var/lib/mathesar"},
		{"forced user mode", "/usr/bin/mathesar", map[string]string{"HOME": "/home/ada", "MATHESAR_MODE": "user"}, User, "/home/ada/.config/mathesar/mathesar.env", "/home/ada/.local/share/mathesar"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := For(tc.exe, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != tc.mode || l.ConfigFile != tc.config || l.DataDir != tc.data {
				t.Errorf("got mode=%s config=%s data=%s", l.Mode, l.ConfigFile, l.DataDir)
			}
		})
	}
	if _, err := For("/usr/bin/mathesar", envOf(map[string]string{"MATHESAR_MODE": "both"})); err == nil || !strings.Contains(err.Error(), "use system or user") {
		t.Errorf("bad MATHESAR_MODE: %v", err)
	}
	if _, err := For("/x/bin/mathesar", envOf(nil)); err == nil || !strings.Contains(err.Error(), "HOME") {
		t.Errorf("no HOME: %v", err)
	}
}

func TestHomebrewPrefixOf(t *testing.T) {
	cases := []struct {
		name, exe, homebrewPrefix, want string
	}{
		{"apple silicon", "/opt/homebrew/Cellar/mathesar/0.10.1-1/libexec/bin/mathesar", "", "/opt/homebrew"},
		{"intel mac", "/usr/local/Cellar/mathesar/0.10.1-1/libexec/bin/mathesar", "", "/usr/local"},
		{"linuxbrew", "/home/linuxbrew/.linuxbrew/Cellar/mathesar/0.10.1-1/libexec/bin/mathesar", "", "/home/linuxbrew/.linuxbrew"},
		{"custom prefix", "/Users/ada/brew/Cellar/mathesar/2/libexec/bin/mathesar", "", "/Users/ada/brew"},
		{"unclean path", "/opt/homebrew//Cellar/mathesar/1/libexec/bin/../bin/mathesar", "", "/opt/homebrew"},
		{"innermost keg wins", "/x/Cellar/mathesar/1/y/Cellar/mathesar/2/libexec/bin/mathesar", "", "/x/Cellar/mathesar/1/y"},
		{"tarball", "/opt/mathesar/bin/mathesar", "", ""},
		{"deb", "/usr/bin/mathesar", "", ""},
		{"another formula's keg", "/opt/homebrew/Cellar/mathesar-cli/1/bin/mathesar", "", ""},
		{"rack without a version", "/opt/homebrew/Cellar/mathesar/mathesar", "", ""},
		{"tarball under a prefix in HOMEBREW_PREFIX", "/usr/local/mathesar/bin/mathesar", "/usr/local", ""},
		{"tarball in the prefix's bin", "/usr/local/bin/mathesar", "/usr/local", ""},
		{"opt path not resolved", "/opt/homebrew/opt/mathesar/libexec/bin/mathesar", "/opt/homebrew", "/opt/homebrew"},
		{"opt path without HOMEBREW_PREFIX", "/opt/homebrew/opt/mathesar/libexec/bin/mathesar", "", ""},
		{"HOMEBREW_PREFIX with a trailing slash", "/opt/homebrew/Cellar/mathesar/1/libexec/bin/mathesar", "/opt/homebrew/", "/opt/homebrew"},
		{"HOMEBREW_PREFIX of another Homebrew", "/opt/homebrew/Cellar/mathesar/1/libexec/bin/mathesar", "/usr/local", "/opt/homebrew"},
		{"relative HOMEBREW_PREFIX ignored", "/opt/homebrew/Cellar/mathesar/1/libexec/bin/mathesar", "homebrew", "/opt/homebrew"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := HomebrewPrefixOf(tc.exe, envOf(map[string]string{"HOMEBREW_PREFIX": tc.homebrewPrefix}))
			if got != tc.want {
				t.Errorf("HomebrewPrefixOf(%s) = %q, want %q", tc.exe, got, tc.want)
			}
			l, err := For(tc.exe, envOf(map[string]string{"HOME": "/h", "HOMEBREW_PREFIX": tc.homebrewPrefix}))
			if err != nil {
				t.Fatal(err)
			}
			if l.HomebrewPrefix != tc.want {
				t.Errorf("Layout.HomebrewPrefix = %q, want %q", l.HomebrewPrefix, tc.want)
			}
			if tc.want != "" && (l.ConfigFile != tc.want+"/etc/mathesar/mathesar.env" || l.DataDir != tc.want+"/var/mathesar") {
				t.Errorf("Homebrew install: config %s, data %s; want them under %s/etc and %s/var", l.ConfigFile, l.DataDir, tc.want, tc.want)
			}
		})
	}
}

// TestPyzCandidatesHomebrew checks that the formula's keg, which keeps the tarball's tree in
// libexec, finds its bundle as ../lib/mathesar/mathesar.pyz, first.
func TestPyzCandidatesHomebrew(t *testing.T) {
	keg := filepath.Join(t.TempDir(), "Cellar", "mathesar", "0.10.1-1")
	exe := filepath.Join(keg, "libexec", "bin", "mathesar")
	want := filepath.Join(keg, "libexec", "lib", "mathesar", "mathesar.pyz")
	if got := PyzCandidates(exe); len(got) == 0 || got[0] != want {
		t.Fatalf("PyzCandidates(%s)[0] = %v, want %s", exe, got, want)
	}
	for _, p := range []string{exe, want} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The keg links bin/mathesar to libexec/bin/mathesar; Detect resolves that link before
	// calling For, which this mirrors.
	link := filepath.Join(keg, "bin", "mathesar")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink("../libexec/bin/mathesar", link); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatal(err)
	}
	l, err := For(real, envOf(map[string]string{"HOME": "/h"}))
	if err != nil {
		t.Fatal(err)
	}
	if wantReal, _ := filepath.EvalSymlinks(want); l.Pyz != wantReal {
		t.Errorf("Pyz = %s, want %s", l.Pyz, wantReal)
	}
	prefix, _ := filepath.EvalSymlinks(filepath.Dir(filepath.Dir(filepath.Dir(keg))))
	if l.HomebrewPrefix != prefix || l.ConfigFile != filepath.Join(prefix, "etc", "mathesar", "mathesar.env") {
		t.Errorf("prefix %q config %s, want prefix %s", l.HomebrewPrefix, l.ConfigFile, prefix)
	}
}

func TestFindPyz(t *testing.T) {
	prefix := t.TempDir()
	exe := filepath.Join(prefix, "bin", "mathesar")
	if got := FindPyz(exe, envOf(nil)); got != "" {
		t.Fatalf("found %s in an empty prefix", got)
	}
	l, _ := For(exe, envOf(map[string]string{"HOME": "/h"}))
	if _, err := l.RequirePyz(); err == nil || !strings.Contains(err.Error(), "lib/mathesar/mathesar.pyz") {
		t.Errorf("RequirePyz error should list where it looked: %v", err)
	}
	for _, rel := range []string{"bin/mathesar.pyz", "libexec/mathesar.pyz", "libexec/mathesar/mathesar.pyz", "lib/mathesar/mathesar.pyz"} {
		p := filepath.Join(prefix, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("zip"), 0o644)
		// Each newly created candidate ranks above the previous ones.
		if got := FindPyz(exe, envOf(nil)); got != p {
			t.Errorf("after creating %s, found %s", rel, got)
		}
	}
	if got := FindPyz(exe, envOf(map[string]string{"MATHESAR_PYZ": "/elsewhere.pyz"})); got != "/elsewhere.pyz" {
		t.Errorf("MATHESAR_PYZ ignored: %s", got)
	}
}

func TestReinstallHint(t *testing.T) {
	cases := map[string]struct {
		exe  string
		env  map[string]string
		want string
	}{
		"package":  {"/usr/bin/mathesar", map[string]string{"HOME": "/root"}, "apt install --reinstall mathesar"},
		"homebrew": {"/opt/homebrew/Cellar/mathesar/1.0/libexec/bin/mathesar", map[string]string{"HOME": "/Users/ada"}, "brew reinstall mathesar"},
		"tarball":  {"/opt/mathesar/bin/mathesar", map[string]string{"HOME": "/home/ada"}, "tarball"},
	}
	for name, c := range cases {
		l, err := For(c.exe, envOf(c.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := l.ReinstallHint(); !strings.Contains(got, c.want) {
			t.Errorf("%s: ReinstallHint() = %q, want it to mention %q", name, got, c.want)
		}
	}
}
