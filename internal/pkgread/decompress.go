package pkgread

import (
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// decompress wraps r in the decompressor for kind, which is either a .deb member
// suffix ("gz", "xz", "zst", ...) or an rpm PayloadCompressor value ("gzip", "zstd", ...).
// The returned close function releases the decoder's resources (zstd keeps goroutines).
func decompress(r io.Reader, kind string) (io.Reader, func(), error) {
	nop := func() {}
	switch kind {
	case "", "none", "identity":
		return r, nop, nil
	case "gz", "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case "xz":
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start xz: %w", err)
		}
		return zr, nop, nil
	case "lzma":
		zr, err := lzma.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start lzma: %w", err)
		}
		return zr, nop, nil
	case "zst", "zstd":
		// One goroutine is plenty for a test reader and keeps memory small.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("start zstd: %w", err)
		}
		return zr, zr.Close, nil
	case "bz2", "bzip2":
		return bzip2.NewReader(r), nop, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %q: expected gzip, xz, zstd, bzip2, lzma or none", kind)
}
