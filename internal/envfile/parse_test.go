package envfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus/*.json from the parser (review the diff, then check with TestCompareWithSystemd)")

// golden is what a corpus file must parse to.
type golden struct {
	Entries  []Entry  `json:"entries"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error,omitempty"`
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.env")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in testdata/corpus: %v", err)
	}
	return files
}

func TestCorpus(t *testing.T) {
	for _, f := range corpusFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".env"), func(t *testing.T) {
			entries, warns, err := ParseFile(f)
			got := golden{Entries: entries, Warnings: []string{}}
			if entries == nil {
				got.Entries = []Entry{}
			}
			for _, w := range warns {
				got.Warnings = append(got.Warnings, w.String())
			}
			if err != nil {
				got.Error = err.Error()
			}
			gotJSON, _ := json.MarshalIndent(got, "", "  ")
			gotJSON = append(gotJSON, '\n')
			gf := strings.TrimSuffix(f, ".env") + ".json"
			if *update {
				if err := os.WriteFile(gf, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCorpus -update to create it)", err)
			}
			if !bytes.Equal(want, gotJSON) {
				t.Errorf("%s differs from the parser's result:\n--- want\n%s--- got\n%s", gf, want, gotJSON)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in      string
		line          int
		versionDepend bool
	}{
		{"invalid utf-8 value", "A=1\nB=\xff\n", 2, false},
		{"invalid utf-8 key", "\xffK=1\n", 1, false},
		{"nul byte", "A=1\n\nB=\x00\n", 3, false},
		{"comment ending in backslash", "A=1\n# x \\\nB=2\n", 2, true},
		{"semicolon comment ending in backslash", "; x \\\r\nB=2\n", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.in), "f.env")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if errors.Is(err, ErrVersionDependent) != tt.versionDepend {
				t.Errorf("errors.Is(ErrVersionDependent) = %v, want %v", !tt.versionDepend, tt.versionDepend)
			}
			if !strings.HasPrefix(err.Error(), "f.env:") || !strings.Contains(err.Error(), "; ") {
				t.Errorf("message %q is not of the form name:line: problem; fix", err)
			}
		})
	}
}

func TestCommentBackslashNotAtEnd(t *testing.T) {
	// A backslash followed by anything but a line end reads the same in every version.
	entries, _, err := Parse(strings.NewReader("# C:\\path and \\\\\nA=1\n"), "f.env")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0] != (Entry{Key: "A", Value: "1", Line: 2}) {
		t.Errorf("entries = %+v", entries)
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "with space", " lead", "trail ", "tab\there", "multi\nline", "cr\rlf",
		`back\slash`, `trailing\`, `"dq"`, "'sq'", "`tick`", "$HOME", "${HOME}", "#hash", ";semi",
		"a=b", "é✓日本", `{"k": "v", "n": [1, 2]}`, "\\\n", "x\\\ny", "postgres://u:p@h:5/db?x=1&y=2",
	}
	for _, v := range values {
		q := Quote(v)
		in := "K=" + q + "\n"
		entries, warns, err := Parse(strings.NewReader(in), "q.env")
		if err != nil || len(warns) != 0 || len(entries) != 1 || entries[0].Value != v {
			t.Errorf("Quote(%q) = %s; reads back as %+v, warnings %v, err %v", v, q, entries, warns, err)
		}
	}
	if q := Quote("simple-value_1.2/x"); q != "simple-value_1.2/x" {
		t.Errorf("Quote of a plain value = %s, want it bare", q)
	}
}

func TestValidName(t *testing.T) {
	tests := map[string]bool{"A": true, "_a1": true, "POSTGRES_DB": true, "1A": false, "": false,
		"A-B": false, "A.B": false, "export A": false, "É": false}
	for k, want := range tests {
		if got := ValidName(k); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", k, got, want)
		}
	}
}
