package bundle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkExtract unpacks a generated bundle shaped like Mathesar's: about 2,000 files,
// mostly small Python sources with a few large shared libraries.
func BenchmarkExtract(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{}
	size := func() int {
		switch r := rng.IntN(100); {
		case r < 80:
			return 200 + rng.IntN(8<<10)
		case r < 98:
			return 8<<10 + rng.IntN(120<<10)
		default:
			return 1<<20 + rng.IntN(3<<20)
		}
	}
	content := func(n int) []byte {
		data := make([]byte, n)
		for i := range data {
			// Text-like bytes, so that deflate does real work as it does on .py files.
			data[i] = "abcdefgh ijklmnop\n()"[rng.IntN(20)]
		}
		return data
	}
	for i := range 700 {
		files[fmt.Sprintf("app/mathesar/m%03d/f%04d.py", i%40, i)] = content(size())
	}
	for i := range 1200 {
		files[fmt.Sprintf("lib/common/site-packages/p%03d/f%04d.py", i%90, i)] = content(size())
	}
	for i := range 100 {
		files[fmt.Sprintf("lib/cp311/site-packages/p%03d/_ext%03d.so", i%90, i)] = content(size())
	}
	p := filepath.Join(b.TempDir(), "mathesar.pyz")
	if err := WriteForTest(p, Manifest{App: App{Name: "bench", Version: "1"}}, files); err != nil {
		b.Fatal(err)
	}
	bd, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	var total int64
	for _, f := range bd.Manifest.Files {
		total += f.Size
	}
	b.SetBytes(total)
	b.ResetTimer()
	root := b.TempDir()
	for i := 0; b.Loop(); i++ {
		dest := filepath.Join(root, fmt.Sprint(i))
		if err := bd.Extract(context.Background(), "cp311", dest, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
