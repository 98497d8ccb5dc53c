package svcuser

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// testAccount is who EnsureDir hands directories to: nobody when the test can chown,
// the current user otherwise.
func testAccount(t *testing.T) *Account {
	t.Helper()
	name := "nobody"
	if os.Geteuid() != 0 {
		u, err := user.LookupId(strconv.Itoa(os.Getuid()))
		if err != nil {
			t.Fatal(err)
		}
		name = u.Username
	}
	a, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func owner(t *testing.T, path string) (os.FileMode, int, int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().Perm(), int(st.Uid), int(st.Gid)
}

func TestEnsureDir(t *testing.T) {
	a := testAccount(t)
	const strangerUID = 12345 // no account on the test machine owns this uid
	tests := []struct {
		name     string
		needRoot bool
		setup    func(t *testing.T, path string) // nil: path does not exist yet
		wantErr  string
		// For a refused directory: its mode and owner stay as setup left them.
		wantMode os.FileMode
		wantUID  int
	}{
		{name: "new with parents", setup: nil},
		{name: "existing with wrong mode", setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "existing owned by the account", needRoot: true, setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, a.UID, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "owned by someone else", needRoot: true, setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, strangerUID, strangerUID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is owned by uid 12345, not root or " + a.Name + ": refusing to take it over; run `chown -R " + a.Name + ":", wantMode: 0o755, wantUID: strangerUID},
		{name: "a file", setup: func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a directory", wantMode: 0o644, wantUID: os.Getuid()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needRoot && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			if _, err := user.LookupId(strconv.Itoa(strangerUID)); err == nil {
				t.Skipf("uid %d has an account here", strangerUID)
			}
			base := t.TempDir()
			path := filepath.Join(base, "var", "lib", "mathesar")
			if tt.setup != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				tt.setup(t, path)
			}
			err := EnsureDir(path, 0o750, a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("EnsureDir = %v, want error naming %s and containing %q", err, path, tt.wantErr)
				}
				if mode, uid, _ := owner(t, path); mode != tt.wantMode || uid != tt.wantUID {
					t.Errorf("refused %s changed to mode %04o uid %d", path, mode, uid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mode, uid, gid := owner(t, path); mode != 0o750 || uid != a.UID || gid != a.GID {
				t.Errorf("%s: mode %04o owner %d:%d, want 0750 %d:%d", path, mode, uid, gid, a.UID, a.GID)
			}
			if tt.setup == nil {
				// Parents stay traversable and belong to whoever ran setup.
				if mode, uid, _ := owner(t, filepath.Dir(path)); mode != 0o755&^umask() || uid != os.Geteuid() {
					t.Errorf("parent mode %04o uid %d, want 0755 (less umask) owned by %d", mode, uid, os.Geteuid())
				}
			}
			// A second run over a correct directory changes nothing and succeeds.
			if err := EnsureDir(path, 0o750, a); err != nil {
				t.Errorf("second EnsureDir: %v", err)
			}
		})
	}
	t.Run("nil account", func(t *testing.T) {
		if err := EnsureDir(filepath.Join(t.TempDir(), "x"), 0o750, nil); err == nil {
			t.Error("EnsureDir with nil account succeeded")
		}
	})
}

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
