package srcfetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const fixture = "testdata/mathesar-0.10.1"

// epoch is the first mtime in test archives; each entry is a minute later than the one
// before, so a tree that loses mtimes cannot pass.
var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o664, ModTime: epoch}, body: body}
}

func dir(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o775, ModTime: epoch}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch}}
}

// fixtureEntries is the fixture tree as git archive lays it out: a pax global header with
// the commit id, the top directory, then every path in order. Modes are those of a
// umask-002 git archive, plus one private file, to exercise normalisation.
func fixtureEntries(t *testing.T) []entry {
	t.Helper()
	es := []entry{
		{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123456789abcdef0123456789abcdef01234567"}}},
	}
	err := filepath.WalkDir(fixture, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(fixture), p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		mtime := epoch.Add(time.Duration(len(es)) * time.Minute)
		if d.IsDir() {
			e := dir(name + "/")
			e.hdr.ModTime = mtime
			es = append(es, e)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		e := file(name, string(data))
		e.hdr.ModTime = mtime
		switch filepath.Base(p) {
		case "manage.py":
			e.hdr.Mode = 0o775
		case "00_msar.sql":
			e.hdr.Mode = 0o600
		}
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func tarGz(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write %s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

type server struct {
	*httptest.Server
	requests atomic.Int64
}

func serve(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func serveBytes(t *testing.T, data []byte) *server {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "mathesar.tar.gz", epoch, bytes.NewReader(data))
	})
}

func (s *server) pin(data []byte) Pin {
	return Pin{Version: "0.10.1", URL: s.URL + "/archive/refs/tags/0.10.1.tar.gz", SHA256: sum(data), Strip: 1}
}

func (s *server) options(root string) Options {
	return Options{CacheRoot: root, Client: s.Client()}
}

// leftovers lists what a cache root holds besides lock files.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		if n := e.Name(); !(strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".lock")) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// setLimit lowers a package limit for one test.
func setLimit[T any](t *testing.T, v *T, to T) {
	old := *v
	*v = to
	t.Cleanup(func() { *v = old })
}
