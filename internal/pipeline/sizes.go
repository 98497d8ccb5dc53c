package pipeline

import (
	"archive/zip"
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SizeGroup is one part of a pyz: the files under one app directory, or one package's
// files in site-packages (all ABIs together).
type SizeGroup struct {
	Name       string
	Files      int
	Size       int64 // uncompressed
	Compressed int64
}

// Sizes reads a pyz's central directory and groups its entries, largest compressed first,
// to show what dominates the bundle.
func Sizes(pyz string) ([]SizeGroup, error) {
	zr, err := zip.OpenReader(pyz)
	if err != nil {
		return nil, fmt.Errorf("measure %s: %w", pyz, err)
	}
	defer zr.Close()
	groups := map[string]*SizeGroup{}
	for _, f := range zr.File {
		name := sizeGroup(f.Name)
		g := groups[name]
		if g == nil {
			g = &SizeGroup{Name: name}
			groups[name] = g
		}
		g.Files++
		g.Size += int64(f.UncompressedSize64)
		g.Compressed += int64(f.CompressedSize64)
	}
	var out []SizeGroup
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b SizeGroup) int {
		return cmp.Or(cmp.Compare(b.Compressed, a.Compressed), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// sizeGroup names the group of a pyz entry.
func sizeGroup(entry string) string {
	parts := strings.Split(entry, "/")
	switch {
	case len(parts) >= 2 && parts[0] == "app":
		switch {
		case strings.HasPrefix(entry, "app/static/"):
			return "app/static (collected static files)"
		case strings.HasPrefix(entry, "app/mathesar/static/"):
			return "app/mathesar/static (front-end build)"
		case len(parts) == 2:
			return "app (top-level files)"
		}
		return "app/" + parts[1]
	case len(parts) >= 4 && parts[0] == "lib" && parts[2] == "site-packages":
		pkg := parts[3]
		if strings.HasSuffix(pkg, ".dist-info") || len(parts) == 4 {
			return "lib: wheel metadata and top-level modules"
		}
		return "lib: " + pkg
	case len(parts) >= 3 && parts[0] == "lib":
		return "lib: " + parts[2] + " (" + parts[1] + ")"
	}
	return "pyz metadata (" + entry + ")"
}

// SizeTable renders the largest groups of a pyz, with the rest summed.
func SizeTable(groups []SizeGroup, top int) string {
	var sb strings.Builder
	var files int
	var size, compressed int64
	for _, g := range groups {
		files += g.Files
		size += g.Size
		compressed += g.Compressed
	}
	fmt.Fprintf(&sb, "  %-48s %6s %10s %10s %6s\n", "part", "files", "size", "in pyz", "share")
	row := func(name string, n int, s, c int64) {
		share := 0.0
		if compressed > 0 {
			share = 100 * float64(c) / float64(compressed)
		}
		fmt.Fprintf(&sb, "  %-48s %6d %10s %10s %5.1f%%\n", name, n, humanBytes(s), humanBytes(c), share)
	}
	var restN int
	var restS, restC int64
	for i, g := range groups {
		if i < top {
			row(g.Name, g.Files, g.Size, g.Compressed)
			continue
		}
		restN += g.Files
		restS += g.Size
		restC += g.Compressed
	}
	if restN > 0 {
		row(fmt.Sprintf("(%d smaller parts)", len(groups)-top), restN, restS, restC)
	}
	row("total", files, size, compressed)
	return sb.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
