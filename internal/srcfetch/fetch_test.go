package srcfetch

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/mathesarsrc"
)

const damaged = "the tarball is damaged or not a Mathesar source archive"

func TestFetchDownloadsVerifiesUnpacksThenCaches(t *testing.T) {
	entries := fixtureEntries(t)
	data := tarGz(t, entries)
	srv := serveBytes(t, data)
	root := filepath.Join(t.TempDir(), "source")
	pin := srv.pin(data)
	var log bytes.Buffer
	o := srv.options(root)
	o.Log = &log

	got, cached, err := Fetch(context.Background(), pin, o)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "0.10.1-"+pin.SHA256[:12])
	if got != want || cached {
		t.Fatalf("Fetch = %s, cached %v; want %s, not cached", got, cached, want)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if v, err := mathesarsrc.Version(got); err != nil || v != "0.10.1" {
		t.Fatalf("mathesarsrc.Version = %q, %v", v, err)
	}
	for _, e := range entries[1:] {
		rel := strings.TrimPrefix(strings.TrimSuffix(e.hdr.Name, "/"), "mathesar-0.10.1")
		p := filepath.Join(got, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
		info, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		wantMode := os.FileMode(0o644)
		switch {
		case e.hdr.Typeflag == tar.TypeDir:
			wantMode = os.ModeDir | 0o755
		case e.hdr.Mode&0o111 != 0:
			wantMode = 0o755
		}
		if info.Mode() != wantMode {
			t.Errorf("%s: mode %v, want %v (archive %o)", e.hdr.Name, info.Mode(), wantMode, e.hdr.Mode)
		}
		if !info.ModTime().Equal(e.hdr.ModTime) {
			t.Errorf("%s: mtime %v, want the archive's %v", e.hdr.Name, info.ModTime(), e.hdr.ModTime)
		}
		if e.hdr.Typeflag == tar.TypeReg {
			if b, err := os.ReadFile(p); err != nil || string(b) != e.body {
				t.Errorf("%s: content %q, %v; want %q", e.hdr.Name, b, err, e.body)
			}
		}
	}
	if l := leftovers(t, root); !slices.Equal(l, []string{filepath.Base(want), filepath.Base(want) + ".complete"}) {
		t.Errorf("cache holds %v, want only the tree and its marker", l)
	}
	if !strings.Contains(log.String(), "sha256 matches the pin") {
		t.Errorf("log lacks the verification line:\n%s", log.String())
	}

	// The second fetch needs no network at all.
	srv.Close()
	again, cached, err := Fetch(context.Background(), pin, o)
	if err != nil || again != want || !cached {
		t.Fatalf("second Fetch = %s, cached %v, %v; want %s from the cache", again, cached, err, want)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests after the cached fetch, want still 1", n)
	}
}

func TestFetchRefusesPinWithoutSHA256(t *testing.T) {
	srv := serveBytes(t, []byte("never served"))
	root := filepath.Join(t.TempDir(), "source")
	pin := Pin{Version: "0.10.1", URL: srv.URL + "/0.10.1.tar.gz", Strip: 1, File: PinFile}
	_, _, err := Fetch(context.Background(), pin, srv.options(root))
	want := "packaging/mathesar-source.json pins Mathesar 0.10.1 without a sha256: download " + pin.URL + ", check it against the release, and record `sha256sum` of it in the file"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("%d requests, want none before the pin is complete", n)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("cache root was created: %v", err)
	}
}

func TestFetchFailuresLeaveNothing(t *testing.T) {
	good := tarGz(t, fixtureEntries(t))
	wrongVersion := fixtureEntries(t)
	for i, e := range wrongVersion {
		if strings.HasSuffix(e.hdr.Name, "mathesar/__init__.py") {
			wrongVersion[i].body = "__version__ = \"0.9.0\"\n"
		}
	}
	tests := []struct {
		name    string
		stall   time.Duration // lowers stallTimeout when set
		handler http.HandlerFunc
		pinSHA  string // "" pins the sha256 of what the handler would serve whole
		data    []byte
		want    []string
	}{
		{
			name:    "sha256 mismatch",
			data:    good,
			pinSHA:  strings.Repeat("ab", 32),
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write(good) },
			want:    []string{"sha256 mismatch", "pins " + strings.Repeat("ab", 32), "the download has " + sum(good)},
		},
		{
			name:    "HTTP 404",
			data:    good,
			handler: http.NotFound,
			want:    []string{"the server answered 404 Not Found", "check the url in packaging/mathesar-source.json"},
		},
		{
			name: "connection dropped",
			data: good,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(good)))
				w.Write(good[:len(good)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // closes the connection mid-body
			},
			want: []string{"the connection broke after " + strconv.Itoa(len(good)/2) + " of " + strconv.Itoa(len(good)) + " bytes", "unexpected EOF", "run the build again"},
		},
		{
			name:  "stalled",
			stall: 300 * time.Millisecond,
			data:  good,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(good)))
				w.Write(good[:100])
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			},
			want: []string{"no data arrived for 300ms after 100 bytes"},
		},
		{
			name:    "not gzip",
			data:    []byte("<html>rate limited</html>"),
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>rate limited</html>")) },
			want:    []string{"the tarball is damaged or not a gzipped tar archive"},
		},
		{
			name: "another version",
			data: tarGz(t, wrongVersion),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write(tarGz(t, wrongVersion))
			},
			want: []string{"holds Mathesar 0.9.0, but packaging/mathesar-source.json pins 0.10.1"},
		},
		{
			name: "no mathesar package",
			data: tarGz(t, []entry{dir("top/"), file("top/README.md", "hello")}),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write(tarGz(t, []entry{dir("top/"), file("top/README.md", "hello")}))
			},
			want: []string{"it is not a Mathesar source archive"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stall > 0 {
				setLimit(t, &stallTimeout, tt.stall)
			}
			srv := serve(t, tt.handler)
			root := filepath.Join(t.TempDir(), "source")
			pin := srv.pin(tt.data)
			if tt.pinSHA != "" {
				pin.SHA256 = tt.pinSHA
			}
			dir, _, err := Fetch(context.Background(), pin, srv.options(root))
			if err == nil {
				t.Fatalf("Fetch succeeded with %s", dir)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := srv.requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if l := leftovers(t, root); len(l) > 0 {
				t.Errorf("cache holds %v after a failed fetch", l)
			}
		})
	}
}

func TestFetchRefusesUnsafeArchives(t *testing.T) {
	top := dir("mathesar-0.10.1/")
	ok := file("mathesar-0.10.1/mathesar/__init__.py", "__version__ = \"0.10.1\"\n")
	hardlink := entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "mathesar-0.10.1/copy.py", Linkname: "mathesar-0.10.1/mathesar/__init__.py", ModTime: epoch}}
	fifo := entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "mathesar-0.10.1/pipe", Mode: 0o644, ModTime: epoch}}
	device := entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "mathesar-0.10.1/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: epoch}}
	tests := []struct {
		name    string
		entries []entry
		limit   func(t *testing.T)
		want    string // the problem, after the entry's name
	}{
		{"dot-dot", []entry{top, ok, file("mathesar-0.10.1/../x", "escaped")}, nil, `entry "mathesar-0.10.1/../x" climbs out of the tree`},
		{"leading dot-dot", []entry{top, ok, file("../x", "escaped")}, nil, `entry "../x" climbs out of the tree`},
		{"absolute path", []entry{top, ok, file("/srcfetch-test-abs", "escaped")}, nil, `entry "/srcfetch-test-abs" has an absolute path`},
		{"symlink outside", []entry{top, ok, symlink("mathesar-0.10.1/mathesar/evil", "../../../outside")}, nil, `entry "mathesar-0.10.1/mathesar/evil" is a symlink to "../../../outside", outside the tree`},
		{"absolute symlink", []entry{top, ok, symlink("mathesar-0.10.1/passwd", "/etc/passwd")}, nil, `is a symlink to the absolute path "/etc/passwd"`},
		{"symlink chain outside", []entry{top, ok, symlink("mathesar-0.10.1/a", "b/.."), symlink("mathesar-0.10.1/b", ".")}, nil, `entry "mathesar-0.10.1/a" is a symlink that does not resolve inside the tree`},
		{"file over a symlink", []entry{top, ok, symlink("mathesar-0.10.1/up", "mathesar"), file("mathesar-0.10.1/up", "overwrite")}, nil, `entry "mathesar-0.10.1/up" cannot be created`},
		{"hard link", []entry{top, ok, hardlink}, nil, `entry "mathesar-0.10.1/copy.py" is a hard link`},
		{"fifo", []entry{top, ok, fifo}, nil, `entry "mathesar-0.10.1/pipe" is a device or fifo`},
		{"device", []entry{top, ok, device}, nil, `entry "mathesar-0.10.1/null" is a device or fifo`},
		{"file beside the top directory", []entry{top, ok, file("README.md", "")}, nil, `entry "README.md" lies outside the archive's top directory`},
		{"second top directory", []entry{top, ok, file("other-1.0/x", "")}, nil, `entry "other-1.0/x" lies outside the archive's top directory "mathesar-0.10.1"`},
		{"duplicate file", []entry{top, ok, ok}, nil, `entry "mathesar-0.10.1/mathesar/__init__.py" cannot be created`},
		{
			"too many bytes",
			[]entry{top, ok, file("mathesar-0.10.1/bomb", strings.Repeat("\x00", 5000))},
			func(t *testing.T) { setLimit(t, &maxTotalBytes, 4096) },
			`entry "mathesar-0.10.1/bomb" takes the archive beyond the limit of 4096 bytes unpacked`,
		},
		{
			"too many entries",
			[]entry{top, ok, file("mathesar-0.10.1/1", ""), file("mathesar-0.10.1/2", ""), file("mathesar-0.10.1/3", "")},
			func(t *testing.T) { setLimit(t, &maxEntries, 4) },
			`entry "mathesar-0.10.1/3" is beyond the limit of 4 entries`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.limit != nil {
				tt.limit(t)
			}
			data := tarGz(t, tt.entries)
			srv := serveBytes(t, data)
			base := t.TempDir()
			root := filepath.Join(base, "cache", "source")
			dir, _, err := Fetch(context.Background(), srv.pin(data), srv.options(root))
			if err == nil {
				t.Fatalf("Fetch accepted the archive: %s", dir)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), damaged) {
				t.Errorf("error lacks %q and %q:\n%v", tt.want, damaged, err)
			}
			if l := leftovers(t, root); len(l) > 0 {
				t.Errorf("cache holds %v after a refused archive", l)
			}
			// Whatever escaped would sit beside the cache.
			if es, _ := os.ReadDir(filepath.Join(base, "cache")); len(es) != 1 {
				t.Errorf("%s holds %v, want only source/", filepath.Join(base, "cache"), es)
			}
			if _, err := os.Lstat("/srcfetch-test-abs"); err == nil {
				t.Errorf("/srcfetch-test-abs was written")
			}
		})
	}
}

func TestFetchCancelledMidDownload(t *testing.T) {
	data := tarGz(t, fixtureEntries(t))
	started := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		close(started)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	root := filepath.Join(t.TempDir(), "source")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	start := time.Now()
	_, _, err := Fetch(ctx, srv.pin(data), srv.options(root))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %s to notice the cancellation", d)
	}
	if l := leftovers(t, root); len(l) > 0 {
		t.Errorf("cache holds %v after a cancelled fetch", l)
	}
}

func TestFetchConcurrentBuildsDownloadOnce(t *testing.T) {
	data := tarGz(t, fixtureEntries(t))
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // long enough for the other Fetch to find the lock taken
		w.Write(data)
	})
	root := filepath.Join(t.TempDir(), "source")
	const n = 3
	var (
		wg     sync.WaitGroup
		dirs   [n]string
		cached [n]bool
		errs   [n]error
	)
	for i := range n {
		wg.Go(func() { dirs[i], cached[i], errs[i] = Fetch(context.Background(), srv.pin(data), srv.options(root)) })
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("Fetch %d returned %s, Fetch 0 %s", i, dirs[i], dirs[0])
		}
		if !cached[i] {
			fresh++
		}
	}
	if r := srv.requests.Load(); r != 1 || fresh != 1 {
		t.Errorf("%d requests and %d uncached results, want 1 and 1", r, fresh)
	}
}

func TestFetchReplacesIncompleteEntries(t *testing.T) {
	data := tarGz(t, fixtureEntries(t))
	srv := serveBytes(t, data)
	root := filepath.Join(t.TempDir(), "source")
	pin := srv.pin(data)
	key := pin.key()
	// What a killed fetch leaves: a tree renamed into place without its marker, a
	// temporary tree and a partial download.
	for _, d := range []string{key + "/mathesar", "." + key + ".tmp-123/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "."+key+".download-456"), []byte("part"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A marker from another strip setting does not vouch for this pin's tree.
	if err := os.WriteFile(filepath.Join(root, key+".complete"), []byte("sha256="+pin.SHA256+" strip=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, cached, err := Fetch(context.Background(), pin, srv.options(root))
	if err != nil || cached {
		t.Fatalf("Fetch = %s, cached %v, %v; want a fresh fetch", dir, cached, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manage.py")); err != nil {
		t.Error(err)
	}
	if l := leftovers(t, root); !slices.Equal(l, []string{key, key + ".complete"}) {
		t.Errorf("cache holds %v, want only the tree and its marker", l)
	}
}

func TestFetchShowsProgress(t *testing.T) {
	setLimit(t, &progressEvery, 0)
	data := tarGz(t, fixtureEntries(t))
	srv := serveBytes(t, data)
	var log bytes.Buffer
	o := srv.options(t.TempDir())
	o.Log = &log
	if _, _, err := Fetch(context.Background(), srv.pin(data), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), " MB (100%) after ") {
		t.Errorf("log lacks a progress line reaching 100%%:\n%s", log.String())
	}
}
