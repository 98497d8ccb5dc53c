package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TreeSpec describes a generated, Mathesar-shaped app tree.
type TreeSpec struct {
	Seed       uint64
	Files      int   // number of files
	TotalBytes int64 // approximate total size
	// BinaryShare is the fraction of files that are .so-like binaries (the rest is
	// Python-like source); binaries carry most of the bytes, as in a real site-packages.
	BinaryShare float64
}

// RealisticTree is the fixture of issue #8: about 15,000 files and 100 MB.
var RealisticTree = TreeSpec{Seed: 8, Files: 15000, TotalBytes: 100 << 20, BinaryShare: 0.1}

var words = strings.Fields(`def class return import from self if else elif for while in not
and or None True False try except finally with as yield lambda pass raise assert global
request response queryset model field value result context schema table column record
user database connection cursor session cache config settings logger handler`)

// Generate writes spec's tree under dir and returns its total size. The same spec gives
// byte-identical files: a seeded PCG drives every choice.
func Generate(dir string, spec TreeSpec) (int64, error) {
	r := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	nBin := int(float64(spec.Files) * spec.BinaryShare)
	nText := spec.Files - nBin
	// Source files average ~2.5 KB, so binaries take the rest of the byte budget.
	const textAvg = 2500
	binAvg := (spec.TotalBytes - int64(nText)*textAvg) / int64(max(nBin, 1))
	if binAvg < 1024 {
		binAvg = 1024
	}
	// Binaries are spread evenly through the tree, one every stride files.
	stride := spec.Files / max(nBin, 1)
	var total int64
	for i := 0; i < spec.Files; i++ {
		pkg := fmt.Sprintf("pkg%03d/sub%02d", i%300, (i/300)%20)
		var name string
		var data []byte
		if nBin > 0 && i%stride == 0 && i/stride < nBin {
			name = fmt.Sprintf("_ext%05d.cpython-311-x86_64-linux-gnu.so", i)
			data = binaryFile(r, int(binAvg/2+r.Int64N(binAvg)))
		} else {
			name = fmt.Sprintf("mod%05d.py", i)
			data = sourceFile(r, textAvg/2+r.IntN(textAvg))
		}
		p := filepath.Join(dir, filepath.FromSlash(pkg), name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return 0, fmt.Errorf("write %s: %w", p, err)
		}
		total += int64(len(data))
	}
	return total, nil
}

func sourceFile(r *rand.Rand, size int) []byte {
	var b strings.Builder
	for b.Len() < size {
		indent := strings.Repeat("    ", r.IntN(3))
		b.WriteString(indent)
		n := 3 + r.IntN(8)
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "(%d)", r.IntN(1000))
		}
		b.WriteString(":\n")
	}
	return []byte(b.String()[:size])
}

// binaryFile mimics a shared object: runs of random bytes (code, hard to compress) mixed
// with zero padding and repeated tables (easy to compress), about half and half.
func binaryFile(r *rand.Rand, size int) []byte {
	out := make([]byte, 0, size)
	for len(out) < size {
		n := 256 + r.IntN(4096)
		switch r.IntN(4) {
		case 0, 1:
			for j := 0; j < n; j++ {
				out = append(out, byte(r.Uint32()))
			}
		case 2:
			out = append(out, make([]byte, n)...)
		default:
			pat := []byte{0x48, 0x89, byte(r.IntN(256)), 0xe5, 0x41, 0x57, 0x41, 0x56}
			for j := 0; j < n; j++ {
				out = append(out, pat[j%len(pat)])
			}
		}
	}
	return out[:size]
}

// TreeHash is a sha256 over the sorted relative paths, modes and contents of the regular
// files under dir, so two extractions of the same subtree hash alike whatever wrote them.
// skip names files (relative, slash-separated) to leave out, such as the cache's marker.
func TreeHash(dir string, skip ...string) (string, int, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			if !skipped[filepath.ToSlash(rel)] {
				paths = append(paths, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("walk %s: %w", dir, err)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, rel := range paths {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return "", 0, fmt.Errorf("hash %s: %w", p, err)
		}
		info, err := f.Stat()
		if err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%o\x00", rel, info.Size(), info.Mode().Perm()&0o111)
			_, err = io.Copy(h, f)
		}
		f.Close()
		if err != nil {
			return "", 0, fmt.Errorf("hash %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), len(paths), nil
}
