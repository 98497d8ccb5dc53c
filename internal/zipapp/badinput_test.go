package zipapp

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// assertNoOutput checks that a failed build left nothing in the output directory.
func assertNoOutput(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed build left %s behind", e.Name())
	}
}

// rewriteWheel copies a wheel zip entry by entry, letting edit change or drop entries and
// add more, to make wheels that are broken in one precise way.
func rewriteWheel(t *testing.T, path string, edit func(name string, data []byte) ([]byte, bool), extra map[string]string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		data, keep := edit(f.Name, data)
		if !keep {
			continue
		}
		w, _ := zw.Create(f.Name)
		w.Write(data)
	}
	for name, data := range extra {
		w, _ := zw.Create(name)
		w.Write([]byte(data))
	}
	zr.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	keep := func(name string, data []byte) ([]byte, bool) { return data, true }
	cases := []struct {
		name  string
		setup func(t *testing.T) (app, wheels string, target Target, limits Limits)
		want  []string // every one must appear in the error
	}{
		{
			name: "missing app directory",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				return filepath.Join(t.TempDir(), "nope"), t.TempDir(), linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"nope does not exist", "MATHESAR_SRC"},
		},
		{
			name: "every missing pin at once",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				pureWheel(t, wheels, "present", "1.0")
				return testApp(t, "present==1.0\nabsent==2.0\nalsoabsent==3.1\npresent2==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"3 pinned requirement(s) have no wheel", "absent==2.0", "alsoabsent==3.1", "present2==1.0"},
		},
		{
			name: "compiled for some ABIs only",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				for _, abi := range []string{"cp310", "cp311", "cp312"} {
					nativeWheel(t, wheels, "native", "2.0", abi+"-"+abi+"-manylinux_2_17_x86_64")
				}
				return testApp(t, "native==2.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"native 2.0 has no wheel for (cp313, manylinux_2_28_x86_64) (cp314, manylinux_2_28_x86_64)", "narrow the CPython range"},
		},
		{
			name: "wheel for another platform only",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				nativeWheel(t, wheels, "native", "2.0", "cp311-cp311-macosx_11_0_arm64")
				return testApp(t, "native==2.0\n"), wheels, linuxTarget(t, 11, 11), Limits{}
			},
			want: []string{"native 2.0 has no wheel for (cp311, manylinux_2_28_x86_64)", "cp311-cp311-macosx_11_0_arm64"},
		},
		{
			name: "unpinned requirement",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				return testApp(t, "present>=1.0\n"), t.TempDir(), linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"requirements.txt:1", "not pinned", "=="},
		},
		{
			name: "corrupt wheel zip",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				p := pureWheel(t, wheels, "present", "1.0")
				data, _ := os.ReadFile(p)
				os.WriteFile(p, data[:len(data)/2], 0o644)
				return testApp(t, "present==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"present-1.0-py3-none-any.whl"},
		},
		{
			name: "RECORD mismatch",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				p := pureWheel(t, wheels, "present", "1.0")
				rewriteWheel(t, p, func(name string, data []byte) ([]byte, bool) {
					if name == "present/__init__.py" {
						return []byte("VERSION = 'tampered'\n"), true
					}
					return data, true
				}, nil)
				return testApp(t, "present==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"present-1.0-py3-none-any.whl", "present/__init__.py"},
		},
		{
			name: "path traversal inside a wheel",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				p := pureWheel(t, wheels, "present", "1.0")
				rewriteWheel(t, p, keep, map[string]string{"../evil.py": "x"})
				return testApp(t, "present==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"present-1.0-py3-none-any.whl", "../evil.py"},
		},
		{
			name: "absolute name inside a wheel",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				p := pureWheel(t, wheels, "present", "1.0")
				rewriteWheel(t, p, keep, map[string]string{"/etc/evil": "x"})
				return testApp(t, "present==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"present-1.0-py3-none-any.whl", "/etc/evil"},
		},
		{
			name: "two wheels of the same distribution",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				wheels := t.TempDir()
				p := pureWheel(t, wheels, "present", "1.0")
				// The same distribution and version under a second, equally good file name.
				data, _ := os.ReadFile(p)
				os.WriteFile(filepath.Join(wheels, "Present-1.0-py3-none-any.whl"), data, 0o644)
				return testApp(t, "present==1.0\n"), wheels, linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"two wheels of the same distribution", "Present-1.0-py3-none-any.whl", "present-1.0-py3-none-any.whl", "keep one"},
		},
		{
			name: "symlink leaving the app tree",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				app := testApp(t, "")
				secret := filepath.Join(t.TempDir(), "secret.txt")
				write(t, secret, "outside", 0o644)
				if err := os.Symlink(secret, filepath.Join(app, "mathesar", "leak.txt")); err != nil {
					t.Fatal(err)
				}
				return app, t.TempDir(), linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"leak.txt", "outside the app tree"},
		},
		{
			name: "file over the zip limit",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				app := testApp(t, "")
				// Sparse: the size check must happen before anything reads the file.
				f, err := os.Create(filepath.Join(app, "huge.bin"))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(1 << 32); err != nil {
					t.Skipf("cannot make a sparse 4 GiB file here: %v", err)
				}
				f.Close()
				return app, t.TempDir(), linuxTarget(t, 10, 14), Limits{}
			},
			want: []string{"huge.bin is 4294967296 bytes", "ZIP64"},
		},
		{
			name: "too many entries",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				app := testApp(t, "")
				for i := 0; i < 5; i++ {
					write(t, filepath.Join(app, "data", strings.Repeat("x", i+1)), "x", 0o644)
				}
				l := DefaultLimits()
				l.MaxEntries = 6
				return app, t.TempDir(), linuxTarget(t, 10, 14), l
			},
			want: []string{"would hold 10 files, over the limit of 6"},
		},
		{
			name: "archive over the total limit",
			setup: func(t *testing.T) (string, string, Target, Limits) {
				l := DefaultLimits()
				l.MaxTotalSize = 100
				return testApp(t, ""), t.TempDir(), linuxTarget(t, 10, 14), l
			},
			want: []string{"over the 100-byte limit"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, wheels, target, limits := tc.setup(t)
			out := filepath.Join(t.TempDir(), "dist", "mathesar.pyz")
			_, err := Build(context.Background(), Options{AppDir: app, Version: "9.9.9", Wheelhouse: wheels, Target: target, Output: out, Limits: limits})
			if err == nil {
				t.Fatal("build succeeded, want an error")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			assertNoOutput(t, out)
		})
	}
}

func TestNarrowedRangeBuilds(t *testing.T) {
	wheels := t.TempDir()
	for _, abi := range []string{"cp310", "cp311", "cp312"} {
		nativeWheel(t, wheels, "native", "2.0", abi+"-"+abi+"-manylinux_2_17_x86_64")
	}
	if _, _, err := build(t, testApp(t, "native==2.0\n"), wheels, linuxTarget(t, 10, 12)); err != nil {
		t.Fatalf("narrowed range: %v", err)
	}
}
