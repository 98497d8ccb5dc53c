package wheel

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// RecordEntry is one row of a RECORD file: path,algo=digest,size.
type RecordEntry struct {
	Path     string
	HashAlgo string // "" when the row has no hash (RECORD itself)
	Digest   string // urlsafe base64 without padding, as written in the file
	Size     int64
	HasSize  bool
}

// digestRE allows "=" padding, which the spec forbids but some old tools wrote; the
// digest is compared by value, so padding does not matter.
var digestRE = regexp.MustCompile(`^[A-Za-z0-9_-]+=*$`)

// ParseRecord parses a RECORD file. RECORD is written by Python's csv module with the
// default dialect: fields that hold a comma, a quote or a line break are quoted and
// quotes doubled. encoding/csv reads exactly that; LazyQuotes is on because Python's
// reader also takes a bare quote inside an unquoted field literally. Paths with control
// characters are refused: no wheel builder writes them and they would make the file
// ambiguous once line endings are normalised.
func ParseRecord(r io.Reader) ([]RecordEntry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = false
	var entries []RecordEntry
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("RECORD: %w", err)
		}
		line, _ := cr.FieldPos(0)
		e, err := parseRecordRow(row)
		if err != nil {
			return nil, fmt.Errorf("RECORD line %d: %w", line, err)
		}
		entries = append(entries, e)
	}
}

func parseRecordRow(row []string) (RecordEntry, error) {
	if len(row) != 3 {
		return RecordEntry{}, fmt.Errorf("%d fields, want 3 (path,hash,size)", len(row))
	}
	e := RecordEntry{Path: row[0]}
	if e.Path == "" {
		return e, errors.New("empty path")
	}
	if strings.IndexFunc(e.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return e, fmt.Errorf("path %q contains a control character", e.Path)
	}
	if row[1] != "" {
		algo, digest, ok := strings.Cut(row[1], "=")
		if !ok || algo == "" || !digestRE.MatchString(digest) {
			return e, fmt.Errorf("path %q: hash %q is not algorithm=urlsafe-base64-digest", e.Path, row[1])
		}
		e.HashAlgo, e.Digest = algo, digest
	}
	if row[2] != "" {
		// Only plain decimal digits: ParseInt would also take a sign.
		if strings.Trim(row[2], "0123456789") != "" {
			return e, fmt.Errorf("path %q: size %q is not a non-negative decimal number", e.Path, row[2])
		}
		n, err := strconv.ParseInt(row[2], 10, 64)
		if err != nil {
			return e, fmt.Errorf("path %q: size %q: %w", e.Path, row[2], err)
		}
		e.Size, e.HasSize = n, true
	}
	return e, nil
}

// fields returns the row as RECORD writes it.
func (e RecordEntry) fields() []string {
	h, size := "", ""
	if e.HashAlgo != "" {
		h = e.HashAlgo + "=" + e.Digest
	}
	if e.HasSize {
		size = strconv.FormatInt(e.Size, 10)
	}
	return []string{e.Path, h, size}
}

// encodeRecord writes entries as a RECORD file with "\n" line ends, as bdist_wheel does.
func encodeRecord(entries []RecordEntry) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	for _, e := range entries {
		if err := cw.Write(e.fields()); err != nil {
			return nil, fmt.Errorf("write RECORD row %q: %w", e.Path, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, fmt.Errorf("write RECORD: %w", err)
	}
	return buf.Bytes(), nil
}

// recordDigest is the RECORD spelling of a sha256 digest.
func recordDigest(sum [32]byte) string {
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sha256Entry describes data as a RECORD row.
func sha256Entry(path string, data []byte) RecordEntry {
	return RecordEntry{Path: path, HashAlgo: "sha256", Digest: recordDigest(sha256.Sum256(data)), Size: int64(len(data)), HasSize: true}
}
