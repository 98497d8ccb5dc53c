package srcfetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Variables so tests can lower them.
var (
	// progressEvery spaces the progress lines of a download; quicker downloads show none.
	progressEvery = 5 * time.Second
	// stallTimeout ends a download that receives nothing for this long. The client has no
	// overall timeout, which would cut off a slow but working link.
	stallTimeout = time.Minute
)

var errStalled = errors.New("stalled")

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone() // keeps proxies and dial timeouts
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

// download fetches pin.URL into a temporary file in root and returns its path once its
// sha256 matches the pin; on any error the file is removed.
func download(parent context.Context, pin Pin, root, key string, client *http.Client, log io.Writer) (path string, err error) {
	if client == nil {
		client = defaultClient()
	}
	what := fmt.Sprintf("download Mathesar %s from %s", pin.Version, pin.URL)
	retry := "run the build again when the network is back, or point MATHESAR_SRC at a checkout"
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pin.URL, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(log, "source: downloading Mathesar %s from %s\n", pin.Version, pin.URL)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return "", fmt.Errorf("%s: %w", what, context.Cause(parent))
		}
		return "", fmt.Errorf("%s: %w: %s", what, err, retry)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: the server answered %s: check the url in %s", what, resp.Status, pin.file())
	}
	if resp.ContentLength > maxTotalBytes {
		return "", fmt.Errorf("%s: the server announces %d bytes, more than the %d a source archive may have: check the url in %s", what, resp.ContentLength, maxTotalBytes, pin.file())
	}

	f, err := os.CreateTemp(root, "."+key+".download-*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	prog := &progress{w: log, total: resp.ContentLength, start: start, last: start}
	watchdog := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()
	body := &watchedReader{r: io.LimitReader(resp.Body, maxTotalBytes+1), watchdog: watchdog}
	n, err := io.Copy(io.MultiWriter(f, h, prog), body)
	switch {
	case parent.Err() != nil:
		return "", fmt.Errorf("%s: %w", what, context.Cause(parent))
	case errors.Is(context.Cause(ctx), errStalled):
		return "", fmt.Errorf("%s: no data arrived for %s after %d bytes: %s", what, stallTimeout, n, retry)
	case err != nil && resp.ContentLength > 0:
		return "", fmt.Errorf("%s: the connection broke after %d of %d bytes: %w: %s", what, n, resp.ContentLength, err, retry)
	case err != nil:
		return "", fmt.Errorf("%s: the connection broke after %d bytes: %w: %s", what, n, err, retry)
	case n > maxTotalBytes:
		return "", fmt.Errorf("%s: more than %d bytes, more than a source archive may have: check the url in %s", what, maxTotalBytes, pin.file())
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != pin.SHA256 {
		err = fmt.Errorf("%s: sha256 mismatch: %s pins %s, the download has %s: the download was damaged or the release was changed; do not update the pin before checking the tarball against the release", what, pin.file(), pin.SHA256, got)
		return "", err
	}
	fmt.Fprintf(log, "source: downloaded %.1f MB in %s, sha256 matches the pin\n", float64(n)/1e6, time.Since(start).Round(100*time.Millisecond))
	return f.Name(), nil
}

// watchedReader pushes the stall deadline back whenever data arrives.
type watchedReader struct {
	r        io.Reader
	watchdog *time.Timer
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.watchdog.Reset(stallTimeout)
	}
	return n, err
}

// progress writes a line every progressEvery while bytes flow through it.
type progress struct {
	w           io.Writer
	total, done int64
	start, last time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		secs := now.Sub(p.start).Round(time.Second)
		if p.total > 0 {
			fmt.Fprintf(p.w, "source: %.1f of %.1f MB (%d%%) after %s\n", float64(p.done)/1e6, float64(p.total)/1e6, p.done*100/p.total, secs)
		} else {
			fmt.Fprintf(p.w, "source: %.1f MB after %s\n", float64(p.done)/1e6, secs)
		}
	}
	return len(b), nil
}
