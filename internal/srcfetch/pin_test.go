package srcfetch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPin(t *testing.T) {
	const (
		gh  = `"https://github.com/mathesar-foundation/mathesar/archive/refs/tags/0.10.1.tar.gz"`
		sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	tests := []struct {
		name    string
		json    string // "" leaves the file missing
		want    Pin    // File is filled in by the test
		wantErr string
	}{
		{name: "pinned, strip defaults to 1", json: `{"version": "0.10.1", "url": ` + gh + `, "sha256": "` + sha + `"}`,
			want: Pin{Version: "0.10.1", URL: strings.Trim(gh, `"`), SHA256: sha, Strip: 1}},
		{name: "empty sha256 loads; Fetch refuses it", json: `{"version": "0.10.1", "url": ` + gh + `, "sha256": ""}`,
			want: Pin{Version: "0.10.1", URL: strings.Trim(gh, `"`), Strip: 1}},
		{name: "strip 0", json: `{"version": "0.10.1", "url": ` + gh + `, "sha256": "", "strip": 0}`,
			want: Pin{Version: "0.10.1", URL: strings.Trim(gh, `"`), Strip: 0}},
		{name: "plain http to loopback for tests", json: `{"version": "1.0", "url": "http://127.0.0.1:8080/a.tar.gz", "sha256": "", "strip": 2}`,
			want: Pin{Version: "1.0", URL: "http://127.0.0.1:8080/a.tar.gz", Strip: 2}},
		{name: "plain http to localhost", json: `{"version": "1.0", "url": "http://localhost/a.tar.gz", "sha256": ""}`,
			want: Pin{Version: "1.0", URL: "http://localhost/a.tar.gz", Strip: 1}},
		{name: "missing file", wantErr: "read the Mathesar source pin"},
		{name: "not JSON", json: `version = 0.10.1`, wantErr: "it must be one JSON object with version, url, sha256 and optionally strip"},
		{name: "misspelt key", json: `{"version": "0.10.1", "url": ` + gh + `, "sha265": ""}`, wantErr: `unknown field "sha265"`},
		{name: "two objects", json: `{"version": "0.10.1", "url": ` + gh + `} {}`, wantErr: "data after the JSON object"},
		{name: "no version", json: `{"url": ` + gh + `, "sha256": ""}`, wantErr: "no version: set it to the Mathesar release"},
		{name: "version with a slash", json: `{"version": "../0.10.1", "url": ` + gh + `}`, wantErr: `version "../0.10.1" is not a release version`},
		{name: "plain http elsewhere", json: `{"version": "0.10.1", "url": "http://github.com/x.tar.gz"}`, wantErr: `url "http://github.com/x.tar.gz" is not an https:// address`},
		{name: "no url", json: `{"version": "0.10.1"}`, wantErr: `url "" is not an https:// address`},
		{name: "https without host", json: `{"version": "0.10.1", "url": "https:///x.tar.gz"}`, wantErr: "is not an https:// address"},
		{name: "uppercase sha256", json: `{"version": "0.10.1", "url": ` + gh + `, "sha256": "` + strings.ToUpper(sha) + `"}`, wantErr: "is not 64 lowercase hex digits: record the output of `sha256sum`"},
		{name: "short sha256", json: `{"version": "0.10.1", "url": ` + gh + `, "sha256": "` + sha[:63] + `"}`, wantErr: "is not 64 lowercase hex digits"},
		{name: "negative strip", json: `{"version": "0.10.1", "url": ` + gh + `, "strip": -1}`, wantErr: "strip -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mathesar-source.json")
			if tt.json != "" {
				if err := os.WriteFile(path, []byte(tt.json), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadPin(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.File = path
			if got != tt.want {
				t.Errorf("LoadPin = %+v\nwant        %+v", got, tt.want)
			}
		})
	}
}

// TestRepositoryPin reads the pin the repository ships and checks that Fetch refuses it
// until its sha256 is recorded.
func TestRepositoryPin(t *testing.T) {
	path := filepath.Join("..", "..", filepath.FromSlash(PinFile))
	pin, err := LoadPin(path)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://github.com/mathesar-foundation/mathesar/archive/refs/tags/0.10.1.tar.gz"
	// The sha256 is whatever was recorded; LoadPin has checked its form.
	if want := (Pin{Version: "0.10.1", URL: url, SHA256: pin.SHA256, Strip: 1, File: path}); pin != want {
		t.Fatalf("LoadPin = %+v, want %+v", pin, want)
	}
	if pin.SHA256 != "" {
		t.Skip("the pin records a sha256: nothing left to refuse")
	}
	pin.File = PinFile // as the message reads when the pipeline names the file from the repository root
	root := filepath.Join(t.TempDir(), "source")
	_, _, err = Fetch(context.Background(), pin, Options{CacheRoot: root})
	want := "packaging/mathesar-source.json pins Mathesar 0.10.1 without a sha256: download " + url + ", check it against the release, and record `sha256sum` of it in the file"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("cache root was created: %v", err)
	}
}
