package srcfetch

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUnpackAccepts covers archives that are unusual but safe, listing the tree each
// leaves: "name" for files, "name/" for directories, "name -> target" for symlinks.
func TestUnpackAccepts(t *testing.T) {
	tests := []struct {
		name    string
		strip   int
		entries []entry
		want    []string
	}{
		{
			name:  "symlinks inside the tree, one dangling",
			strip: 1,
			entries: []entry{
				dir("top/"), file("top/a/f.txt", "x"),
				symlink("top/a/same", "f.txt"), symlink("top/a/up", "../b/g"), symlink("top/a/dangling", "missing"),
				file("top/b/g", "y"),
			},
			want: []string{"a/", "a/dangling -> missing", "a/f.txt", "a/same -> f.txt", "a/up -> ../b/g", "b/", "b/g"},
		},
		{
			name:    "no strip, no directory entries, ./ prefixes",
			strip:   0,
			entries: []entry{file("./mathesar/__init__.py", "v"), file("manage.py", "m")},
			want:    []string{"manage.py", "mathesar/", "mathesar/__init__.py"},
		},
		{
			name:    "strip two",
			strip:   2,
			entries: []entry{dir("a/"), dir("a/b/"), file("a/b/c/d.py", ""), dir("a/"), file("a/b/e", "")},
			want:    []string{"c/", "c/d.py", "e"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := t.TempDir()
			if err := unpack(bytes.NewReader(tarGz(t, tt.entries)), "test.tar.gz", dst, tt.strip); err != nil {
				t.Fatal(err)
			}
			if got := listTree(t, dst); !slices.Equal(got, tt.want) {
				t.Errorf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
