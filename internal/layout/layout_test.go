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
