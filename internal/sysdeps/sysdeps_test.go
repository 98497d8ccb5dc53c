package sysdeps

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestMissingFrom(t *testing.T) {
	out := []byte("gcc\tii \npython3-dev\tun \nlibc6-dev:amd64\tii \npostgresql\trc \n")
	got := missingFrom(out, []string{"gcc", "python3-dev", "libc6-dev", "postgresql", "unzip"})
	want := []string{"postgresql", "python3-dev", "unzip"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("missingFrom = %v, want %v", got, want)
	}
}

func TestMissingAsksDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("dpkg-query not available: not a Debian machine")
	}
	// dpkg is installed on every Debian system; the second name exists nowhere.
	got, err := Missing(context.Background(), []string{"dpkg", "no-such-package-mathesar-test"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"no-such-package-mathesar-test"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Missing = %v, want %v", got, want)
	}
}

func TestInstallCommand(t *testing.T) {
	if got, want := InstallCommand([]string{"gcc", "unzip"}, false), "sudo apt-get install -y --no-install-recommends gcc unzip"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := InstallCommand([]string{"gcc"}, true), "apt-get install -y --no-install-recommends gcc"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestWithoutCommands(t *testing.T) {
	pkgs := []Package{{Name: "npm", Command: "npm"}, {Name: "gettext"}, {Name: "nodejs", Command: "node"}}
	onPath := map[string]bool{"npm": true}
	lookPath := func(c string) (string, error) {
		if onPath[c] {
			return "/usr/bin/" + c, nil
		}
		return "", errors.New("not found")
	}
	got := withoutCommands([]string{"gettext", "nodejs", "npm"}, pkgs, lookPath)
	if strings.Join(got, " ") != "gettext nodejs" {
		t.Errorf("withoutCommands = %q, want gettext and nodejs (npm is on PATH)", got)
	}
}
