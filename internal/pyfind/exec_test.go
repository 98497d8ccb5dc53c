package pyfind

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecBehindShim: a version manager's shim (a script that execs the real interpreter,
// as pyenv's do) is reported by the path it was found at, but Exec names the interpreter
// itself, so each start skips the shim.
func TestExecBehindShim(t *testing.T) {
	real, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	shim := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ip, err := Probe(context.Background(), shim)
	if err != nil {
		t.Fatal(err)
	}
	if ip.Path != shim || ip.Exec() == shim || !filepath.IsAbs(ip.Exec()) {
		t.Fatalf("Path %q, Exec %q: want the shim as Path and the real interpreter as Exec", ip.Path, ip.Exec())
	}
	out, err := exec.Command(ip.Exec(), "-c", "import sys; print(sys.executable)").Output()
	if err != nil || strings.TrimSpace(string(out)) != ip.Exec() {
		t.Errorf("running Exec: %q, %v", out, err)
	}
	direct, err := Probe(context.Background(), ip.Exec())
	if err != nil {
		t.Fatal(err)
	}
	if direct.Executable != "" || direct.Exec() != direct.Path {
		t.Errorf("probing the interpreter itself: Executable %q, want none", direct.Executable)
	}
}
