package svcuser

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const (
	helperEnv = "SVCUSER_TEST_HELPER"
	helperDir = "SVCUSER_TEST_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "drop":
		if err := json.NewEncoder(os.Stdout).Encode(dropHelper(os.Getenv(helperDir))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode")
	os.Exit(2)
}

// dropReport is what the helper process observed around DropTo.
type dropReport struct {
	DropErr                 string
	UID, EUID, GID, EGID    int
	Groups                  []int
	Home, User, Logname     string
	WriteBefore, WriteAfter string // "" when the write worked
	ThreadIDs               []string
	AgainErr, ToRootErr     string // DropTo(nobody) again, DropTo(root) afterwards
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// dropHelper runs as root in a child process, drops to nobody and reports.
func dropHelper(dir string) dropReport {
	var r dropReport
	r.WriteBefore = errString(os.WriteFile(filepath.Join(dir, "before"), nil, 0o600))
	a, err := Lookup("nobody")
	if err != nil {
		r.DropErr = err.Error()
		return r
	}
	// Busy threads exist when DropTo runs, so the switch must reach them too.
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			runtime.LockOSThread()
			<-stop
		}()
	}
	r.DropErr = errString(DropTo(a))
	r.UID, r.EUID, r.GID, r.EGID = os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid()
	r.Groups, _ = os.Getgroups()
	sort.Ints(r.Groups)
	r.Home, r.User, r.Logname = os.Getenv("HOME"), os.Getenv("USER"), os.Getenv("LOGNAME")
	r.WriteAfter = errString(os.WriteFile(filepath.Join(dir, "after"), nil, 0o600))
	r.ThreadIDs = threadIDs()
	close(stop)
	r.AgainErr = errString(DropTo(a))
	if root, err := Lookup("root"); err == nil {
		r.ToRootErr = errString(DropTo(root))
	}
	return r
}

// threadIDs lists the distinct "Uid:" and "Gid:" lines of every thread (Linux only).
func threadIDs() []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	seen := map[string]bool{}
	var out []string
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if (strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:")) && !seen[line] {
				seen[line] = true
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	sort.Strings(out)
	return out
}

// idOf asks id(1), which reads the account database independently of os/user.
func idOf(t *testing.T, flag, name string) []int {
	t.Helper()
	out, err := exec.Command("id", flag, name).Output()
	if err != nil {
		t.Fatalf("id %s %s: %v", flag, name, err)
	}
	var ids []int
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("id %s %s printed %q", flag, name, out)
		}
		ids = append(ids, n)
	}
	sort.Ints(ids)
	return ids
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"root", "nobody"} {
		t.Run(name, func(t *testing.T) {
			a, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != name || a.UID != idOf(t, "-u", name)[0] || a.GID != idOf(t, "-g", name)[0] {
				t.Errorf("Lookup(%s) = %+v, want uid %v gid %v", name, a, idOf(t, "-u", name), idOf(t, "-g", name))
			}
			if want := idOf(t, "-G", name); fmt.Sprint(a.Groups) != fmt.Sprint(want) {
				t.Errorf("Lookup(%s).Groups = %v, id -G says %v", name, a.Groups, want)
			}
			if u, err := user.Lookup(name); err != nil || a.Home != u.HomeDir || a.Home == "" {
				t.Errorf("Lookup(%s).Home = %q, want %q (%v)", name, a.Home, u.HomeDir, err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		a, err := Lookup("mathesar-no-such-user")
		if !errors.Is(err, ErrNoUser) || a != nil {
			t.Fatalf("Lookup of a missing user = %+v, %v; want ErrNoUser", a, err)
		}
		if !strings.Contains(err.Error(), "useradd --system") {
			t.Errorf("message %q does not say how to create the user", err)
		}
	})
}

func TestDropToAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=drop", helperDir+"="+dir, "HOME=/root", "USER=root", "LOGNAME=root")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var r dropReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("helper printed %q: %v", out, err)
	}
	nobody, err := Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if r.DropErr != "" || r.WriteBefore != "" {
		t.Fatalf("DropTo: %q; write as root before: %q", r.DropErr, r.WriteBefore)
	}
	if r.UID != nobody.UID || r.EUID != nobody.UID || r.GID != nobody.GID || r.EGID != nobody.GID {
		t.Errorf("after DropTo uid/euid/gid/egid = %d/%d/%d/%d, want %d and %d", r.UID, r.EUID, r.GID, r.EGID, nobody.UID, nobody.GID)
	}
	if fmt.Sprint(r.Groups) != fmt.Sprint(nobody.Groups) {
		t.Errorf("groups = %v, want %v", r.Groups, nobody.Groups)
	}
	if r.Home != nobody.Home || r.User != "nobody" || r.Logname != "nobody" {
		t.Errorf("HOME/USER/LOGNAME = %q/%q/%q, want %q/nobody/nobody", r.Home, r.User, r.Logname, nobody.Home)
	}
	if !strings.Contains(r.WriteAfter, "permission denied") {
		t.Errorf("write to root's 0700 dir after DropTo: %q, want permission denied", r.WriteAfter)
	}
	if runtime.GOOS == "linux" {
		u, g := strconv.Itoa(nobody.UID), strconv.Itoa(nobody.GID)
		want := []string{"Gid: " + strings.Repeat(g+" ", 3) + g, "Uid: " + strings.Repeat(u+" ", 3) + u}
		if fmt.Sprint(r.ThreadIDs) != fmt.Sprint(want) {
			t.Errorf("threads' real/effective/saved/fs ids = %q, want only %q", r.ThreadIDs, want)
		}
	}
	if r.AgainErr != "" {
		t.Errorf("DropTo(nobody) as nobody = %q, want no-op", r.AgainErr)
	}
	if !strings.Contains(r.ToRootErr, "run as root or as root") {
		t.Errorf("DropTo(root) as nobody = %q, want the run-as-root error", r.ToRootErr)
	}
}

func TestDropToAsNonRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as root this case runs in TestDropToAsRoot's dropped child")
	}
	self, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	me, err := Lookup(self.Username)
	if err != nil {
		t.Fatal(err)
	}
	root, err := Lookup("root")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		a       *Account
		wantErr string
	}{
		{"self is a no-op", me, ""},
		{"root is refused", root, "run as root or as root"},
		{"nil account", nil, "no account given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DropTo(tt.a)
			if got := errString(err); tt.wantErr == "" && got != "" || !strings.Contains(got, tt.wantErr) {
				t.Fatalf("DropTo = %q, want %q", got, tt.wantErr)
			}
			if os.Getuid() != me.UID {
				t.Fatalf("uid changed to %d", os.Getuid())
			}
		})
	}
}

func TestShouldDrop(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name     string
		wantDrop bool
		wantAcct bool
	}{
		{"nobody", root, root},
		{"root", false, root},
		{"mathesar-no-such-user", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, drop, err := ShouldDrop(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if drop != tt.wantDrop || (a != nil) != tt.wantAcct || (a != nil && a.Name != tt.name) {
				t.Errorf("ShouldDrop(%s) = %+v, %v; want drop %v, account %v", tt.name, a, drop, tt.wantDrop, tt.wantAcct)
			}
		})
	}
}
