package wheelfetch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// dist is one release on the test index: a wheel per tag set, with dependencies.
type dist struct {
	name, version string
	tags          []string
	requires      []string
	extras        []string // Provides-Extra
}

// testDists is the test index. Decoys (other CPythons, architectures, too-new glibc or
// macOS, an older version) must never be fetched.
var testDists = []dist{
	{name: "alpha", version: "1.0", tags: []string{
		"cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp311-cp311-manylinux_2_28_x86_64",
		"cp310-cp310-macosx_11_0_arm64",
		"cp311-abi3-macosx_11_0_arm64",
		// decoys
		"cp310-cp310-manylinux_2_34_x86_64",
		"cp311-cp311-macosx_14_0_arm64",
		"cp312-cp312-manylinux_2_17_x86_64",
		"cp310-cp310-manylinux_2_17_aarch64",
		"cp310-cp310-win_amd64",
	}},
	{name: "alpha", version: "0.9", tags: []string{"py3-none-any"}},
	// Dependencies behind markers only a target (not this machine) decides.
	{name: "beta", version: "2.0", tags: []string{"py3-none-any"}, requires: []string{
		`gamma==1.0; python_version < "3.11"`,
		`delta>=1.0; sys_platform == "darwin"`,
	}},
	{name: "gamma", version: "1.0", tags: []string{"py3-none-any"}},
	{name: "delta", version: "1.0", tags: []string{"py3-none-any"}},
	// Wheels for linux/amd64 only, one for CPython 3.10 only.
	{name: "linux_only", version: "1.0", tags: []string{
		"cp310-cp310-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_17_x86_64"}},
	{name: "linuxonly2", version: "3.0", tags: []string{
		"cp310-cp310-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_x86_64"}},
	// Needs a distribution the index does not have (404), on darwin only.
	{name: "needsghost", version: "1.0", tags: []string{"py3-none-any"}, requires: []string{
		`ghost>=1; sys_platform == "darwin"`}},
}

// buildDists writes the wheels of dists into dir.
func buildDists(t *testing.T, dir string, dists []dist) {
	t.Helper()
	for _, d := range dists {
		files := map[string]string{d.name + "/__init__.py": "VERSION = " + fmt.Sprintf("%q", d.version) + "\n"}
		if len(d.requires) == 0 && len(d.extras) == 0 {
			if _, err := samplewheels.Synthetic(dir, d.name, d.version, d.tags, files); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for _, tags := range d.tags { // Synthetic writes no Requires-Dist
			spec := wheel.BuildSpec{Name: d.name, Version: d.version, Tags: tags, RootIsPurelib: true, RequiresDist: d.requires, ProvidesExtra: d.extras,
				Files: []wheel.SpecFile{{Path: d.name + "/__init__.py", Data: []byte(files[d.name+"/__init__.py"])}}}
			if _, err := wheel.Write(dir, spec); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// index is a PEP 503 simple index over the wheels of a directory.
type index struct {
	url      string        // the simple index, for PIP_INDEX_URL
	requests atomic.Int64  // every request served
	fileHit  chan struct{} // receives once when a wheel download starts
	hold     chan struct{} // while open (non-nil), wheel downloads wait for it to close
}

// serveIndex serves dir's wheels as /simple/<normalized-name>/ pages linking to
// /files/<wheel>#sha256=<digest>; unknown projects get 404, as on PyPI.
func serveIndex(t *testing.T, dir string, hold bool) *index {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]string{}
	for _, e := range entries {
		fn, err := wheel.ParseFilename(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		n := pyreq.NormalizeName(fn.Name)
		byName[n] = append(byName[n], e.Name())
	}
	ix := &index{fileHit: make(chan struct{}, 1)}
	if hold {
		ix.hold = make(chan struct{})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/{project}/", func(w http.ResponseWriter, r *http.Request) {
		files, ok := byName[r.PathValue("project")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		slices.Sort(files)
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><body>\n")
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(&b, "<a href=\"../../files/%s#sha256=%s\">%s</a><br/>\n", html.EscapeString(f), hex.EncodeToString(sum[:]), html.EscapeString(f))
		}
		b.WriteString("</body></html>\n")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, b.String())
	})
	mux.HandleFunc("GET /files/{file}", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ix.fileHit <- struct{}{}:
		default:
		}
		if ix.hold != nil {
			select {
			case <-ix.hold:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.PathValue("file"))))
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ix.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	if ix.hold != nil {
		t.Cleanup(func() { close(ix.hold) }) // runs before srv.Close, which waits for handlers
	}
	ix.url = srv.URL + "/simple/"
	return ix
}

// usePipIndex points pip at url alone, with this machine's pip configuration (such as a
// PIP_FIND_LINKS of its own) out of the way and a private cache.
func usePipIndex(t *testing.T, url string) {
	t.Helper()
	for _, k := range []string{"PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_REQUIRE_VIRTUALENV", "PIP_TARGET"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("PIP_INDEX_URL", url)
	t.Setenv("PIP_CONFIG_FILE", os.DevNull)
	t.Setenv("PIP_CACHE_DIR", t.TempDir())
	t.Setenv("PIP_RETRIES", "0")
	t.Setenv("PIP_TIMEOUT", "15")
	t.Setenv("PIP_DEFAULT_TIMEOUT", "15")
}

// startTestIndex serves testDists as the package index pip uses for the rest of the test.
func startTestIndex(t *testing.T) *index {
	t.Helper()
	requirePip(t)
	wheels := t.TempDir()
	buildDists(t, wheels, testDists)
	ix := serveIndex(t, wheels, false)
	usePipIndex(t, ix.url)
	return ix
}
