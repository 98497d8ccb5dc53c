package pyfind

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProbeRealInterpreters(t *testing.T) {
	for _, tc := range []struct{ major, minor int }{
		{3, 11}, {3, 13}, {3, 12}, {3, 10}, {3, 8}, {3, 7}, {2, 7},
	} {
		t.Run(fmt.Sprintf("%d.%d", tc.major, tc.minor), func(t *testing.T) {
			rp := findReal(t, tc.major, tc.minor)
			ip, err := Probe(context.Background(), rp.path)
			if err != nil {
				t.Fatalf("Probe(%s): %v", rp.path, err)
			}
			if ip.Version != rp.version || ip.Implementation != "cpython" || ip.FreeThreaded || ip.Debug || ip.Path != rp.path {
				t.Errorf("Probe(%s) = %+v, want CPython %v at that path", rp.path, *ip, rp.version)
			}
			want := fmt.Sprintf("cp%d%d", tc.major, tc.minor)
			if tc.major == 3 && tc.minor < 8 {
				want += "m" // pymalloc flag, part of the ABI tag before 3.8
			}
			if ip.ABI != want {
				t.Errorf("ABI = %q, want %q", ip.ABI, want)
			}
		})
	}
}

func TestProbeBroken(t *testing.T) {
	dir := farm(t, map[string]string{
		"noexec":  "noexec:#!/bin/sh\necho '{}'\n",
		"exit1":   "#!/bin/sh\necho 'boom: cannot start' >&2\nexit 1\n",
		"garbage": "#!/bin/sh\necho 'hello, not python'\n",
		"sleeper": "#!/bin/sh\nexec sleep 30\n",
	})
	for _, tc := range []struct {
		name, wantInErr string
		timeout         time.Duration // shortened only where the timeout is under test, so load cannot flake the rest
	}{
		{"noexec", "permission denied", 0},
		{"exit1", "exit status 1: boom: cannot start", 0},
		{"garbage", `unexpected output "hello, not python"`, 0},
		{"sleeper", "no answer within 300ms", 300 * time.Millisecond},
		{"missing", "no such file", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.timeout != 0 {
				orig := probeTimeout
				probeTimeout = tc.timeout
				t.Cleanup(func() { probeTimeout = orig })
			}
			start := time.Now()
			ip, err := Probe(context.Background(), filepath.Join(dir, tc.name))
			if err == nil {
				t.Fatalf("Probe = %+v, want an error", *ip)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) || !strings.Contains(err.Error(), filepath.Join(dir, tc.name)) {
				t.Errorf("error %q does not name the file and %q", err, tc.wantInErr)
			}
			if d := time.Since(start); tc.timeout != 0 && d > tc.timeout+3*time.Second {
				t.Errorf("Probe took %s; the timeout did not stop it", d)
			}
		})
	}
}

func TestABITag(t *testing.T) {
	for _, tc := range []struct {
		ip       Interpreter
		abiflags string
		want     string
	}{
		{Interpreter{Version: [3]int{3, 11, 2}, Implementation: "cpython"}, "", "cp311"},
		{Interpreter{Version: [3]int{3, 14, 0}, Implementation: "cpython"}, "", "cp314"},
		{Interpreter{Version: [3]int{3, 7, 16}, Implementation: "cpython"}, "m", "cp37m"},
		{Interpreter{Version: [3]int{3, 13, 1}, Implementation: "cpython", FreeThreaded: true}, "t", ""},
		{Interpreter{Version: [3]int{3, 12, 1}, Implementation: "cpython", Debug: true}, "d", ""},
		{Interpreter{Version: [3]int{3, 11, 13}, Implementation: "pypy"}, "", ""},
	} {
		if got := abiTag(&tc.ip, tc.abiflags); got != tc.want {
			t.Errorf("abiTag(%+v, %q) = %q, want %q", tc.ip, tc.abiflags, got, tc.want)
		}
	}
}
