package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name, before, key, value, after string
	}{
		{"replace keeps comments and order",
			"# header\nA=1\n\n; note\nB=2\nC=3\n", "B", "new", "# header\nA=1\n\n; note\nB=new\nC=3\n"},
		{"append",
			"# header\nA=1\n", "B", "2", "# header\nA=1\nB=2\n"},
		{"append after a last line without newline",
			"A=1", "B", "2", "A=1\nB=2\n"},
		{"append keeps CRLF",
			"A=1\r\n", "B", "2", "A=1\r\nB=2\r\n"},
		{"replace keeps CRLF",
			"A=1\r\nB=2\r\n", "A", "x y", "A=\"x y\"\r\nB=2\r\n"},
		{"replace the last line without newline",
			"A=1\nB=2", "B", "3", "A=1\nB=3"},
		{"earlier duplicates are deleted, the last is replaced in place",
			"A=1\nB=2\n  A=3 # dead\nC=4\nA=5\nD=6\n", "A", "7", "B=2\nC=4\nA=7\nD=6\n"},
		{"multi-line value replaced whole",
			"A=\"one\ntwo\"\nB=x \\\n y\nC=3\n", "B", "z", "A=\"one\ntwo\"\nB=z\nC=3\n"},
		{"value needing quotes",
			"A=1\n", "SECRET_KEY", `a b"$c\`, "A=1\nSECRET_KEY=\"a b\\\"\\$c\\\\\"\n"},
		{"same value keeps the admin's quoting",
			"A='x'\n", "A", "x", "A='x'\n"},
		{"indented key replaced, indentation kept",
			"  A = 1\n", "A", "2", "  A=2\n"},
		{"invalid lines are left alone",
			"export A=1\nA-B=2\n", "A", "3", "export A=1\nA-B=2\nA=3\n"},
		{"empty file",
			"", "A", "", "A=\"\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.env")
			if err := os.WriteFile(path, []byte(tt.before), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := Set(path, tt.key, tt.value); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.after {
				t.Errorf("after Set:\n%q\nwant\n%q", got, tt.after)
			}
			entries, _, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range entries {
				if e.Key == tt.key {
					found = e.Value == tt.value
				}
			}
			if !found {
				t.Errorf("%s does not read back as %q: %+v", tt.key, tt.value, entries)
			}
		})
	}
}

func TestSetLeavesSecretKeyLineUntouched(t *testing.T) {
	before := "# Mathesar\nSECRET_KEY='odd\\ \"quoting\"'   \nPOSTGRES_PORT=5432\n"
	path := filepath.Join(t.TempDir(), "mathesar.env")
	os.WriteFile(path, []byte(before), 0o640)
	if err := Set(path, "POSTGRES_PORT", "5433"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := strings.Replace(before, "5432", "5433", 1); string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSetCreatesFileWithMode0640(t *testing.T) {
	old := syscall.Umask(0o077) // the mode must not depend on the caller's umask
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "new.env")
	if err := Set(path, "A", "1"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %o, want 640", fi.Mode().Perm())
	}
	if got, _ := os.ReadFile(path); string(got) != "A=1\n" {
		t.Errorf("content = %q", got)
	}
}

func TestSetKeepsModeOwnerAndSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.env")
	link := filepath.Join(dir, "link.env")
	os.WriteFile(real, []byte("A=1\n"), 0o604)
	os.Chmod(real, 0o604)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	wantUID, wantGID := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		wantUID, wantGID = 65534, 65534
		if err := os.Chown(real, wantUID, wantGID); err != nil {
			t.Fatal(err)
		}
	}
	if err := Set(link, "B", "2"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file (%v)", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o604 {
		t.Errorf("mode = %o, want 604", fi.Mode().Perm())
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != wantUID || int(st.Gid) != wantGID {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, wantUID, wantGID)
	}
	if got, _ := os.ReadFile(real); string(got) != "A=1\nB=2\n" {
		t.Errorf("content = %q", got)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestUnset(t *testing.T) {
	tests := []struct{ name, before, key, after string }{
		{"all assignments go, comments stay", "# c\nA=1\nB=2\n  A=3\n# A=4\n", "A", "# c\nB=2\n# A=4\n"},
		{"absent key leaves the file alone", "B=2\n", "A", "B=2\n"},
		{"multi-line value", "A='x\ny'\nB=2\n", "A", "B=2\n"},
		{"last line without newline", "B=2\nA=1", "A", "B=2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.env")
			os.WriteFile(path, []byte(tt.before), 0o640)
			if err := Unset(path, tt.key); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.after {
				t.Errorf("got %q, want %q", got, tt.after)
			}
		})
	}
	if err := Unset(filepath.Join(t.TempDir(), "missing.env"), "A"); err != nil {
		t.Errorf("Unset on a missing file: %v", err)
	}
}

func TestSetRefuses(t *testing.T) {
	tests := []struct {
		name, before, key, value, wantErr string
	}{
		{"invalid key", "", "A-B", "1", "invalid variable name"},
		{"invalid UTF-8 value", "", "A", "\xff", "UTF-8"},
		{"file systemd refuses", "A=\xff\n", "B", "1", "UTF-8"},
		{"unterminated quote would swallow the new line", "A=\"open\n", "B", "1", "never closed"},
		{"trailing backslash would join the new line", "A=x\\", "B", "1", "fix it by hand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.env")
			os.WriteFile(path, []byte(tt.before), 0o640)
			err := Set(path, tt.key, tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.before {
				t.Errorf("the file changed although Set failed: %q", got)
			}
		})
	}
	err := Set(filepath.Join(t.TempDir(), "no", "such", "m.env"), "A", "1")
	if err == nil || !strings.Contains(err.Error(), "mkdir -p") || !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: err = %v, want one naming mkdir -p", err)
	}
}
