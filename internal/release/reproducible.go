package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Digest is one artifact's sha256, by its path under dist/.
type Digest struct {
	Name   string
	SHA256 string
}

// VerifyReproducible makes the release twice from the same commit and compares every
// artifact byte for byte. It returns the digests of both runs.
func VerifyReproducible(ctx context.Context, o Options) (first, second []Digest, err error) {
	for i, dst := range []*[]Digest{&first, &second} {
		res, err := Run(ctx, o)
		if err != nil {
			return nil, nil, fmt.Errorf("release run %d: %w", i+1, err)
		}
		if *dst, err = digests(filepath.Join(o.Pipeline.Root, "dist"), res.Artifacts); err != nil {
			return nil, nil, err
		}
	}
	var diffs []string
	seen := map[string]string{}
	for _, d := range first {
		seen[d.Name] = d.SHA256
	}
	for _, d := range second {
		if seen[d.Name] != d.SHA256 {
			diffs = append(diffs, d.Name)
		}
		delete(seen, d.Name)
	}
	for name := range seen {
		diffs = append(diffs, name+" (only in the first run)")
	}
	if len(first) != len(second) || len(diffs) > 0 {
		return first, second, fmt.Errorf("the two releases differ: %s; look for a timestamp, a path of the build machine or an unsorted list in them (diffoscope shows where)", strings.Join(diffs, ", "))
	}
	return first, second, nil
}

func digests(dist string, artifacts []string) ([]Digest, error) {
	var out []Digest
	for _, a := range artifacts {
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dist, a)
		out = append(out, Digest{Name: rel, SHA256: hex.EncodeToString(sum[:])})
	}
	return out, nil
}
