package wheel

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{
		"django_storages-1.14.4-py3-none-any.whl",
		"psycopg_binary-3.2.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"six-1.16.0-py2.py3-none-any.whl",
		"demo-1.0-1local-PY2.py3-none-any.whl",
		"demo-1!2.0rc1.post3.dev4+abc.5-cp3.cp3-abi3-any.whl",
		"demo-1.0-py3-none-.whl",
		"-.whl",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := ParseFilename(s)
		if err != nil {
			return
		}
		if len(fn.Tags) == 0 {
			t.Fatalf("ParseFilename(%q) gave no tags", s)
		}
		again, err := ParseFilename(fn.String())
		if err != nil {
			t.Fatalf("ParseFilename(%q).String() = %q does not parse: %v", s, fn.String(), err)
		}
		if !reflect.DeepEqual(fn, again) {
			t.Fatalf("round trip of %q: %+v then %+v", s, fn, again)
		}
		// A name already in canonical form (lower-case tags, no repeated parts) comes
		// back byte for byte.
		fields := strings.Split(strings.TrimSuffix(s, ".whl"), "-")
		tagPart := strings.Join(fields[len(fields)-3:], "-")
		if tagPart == FormatTagSet(fn.Tags) && fn.String() != s {
			t.Fatalf("canonical %q renders as %q", s, fn.String())
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"a/b.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\na-1.0.dist-info/RECORD,,\n",
		"\"a/x, y.py\",sha256=AAAA,12\r\n\r\n\"a/\"\"q\"\".py\",sha256=AA,3\r\n",
		"a/\"q\".py,,\n",
		"\"abc,,\n",
		" x,sha384=AAAA==,007\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseRecord(strings.NewReader(s))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		for _, e := range entries {
			if err := cw.Write(e.fields()); err != nil {
				t.Fatal(err)
			}
		}
		cw.Flush()
		again, err := ParseRecord(&buf)
		if err != nil {
			t.Fatalf("re-encoded RECORD of %q does not parse: %v\n%s", s, err, buf.String())
		}
		if len(entries) != len(again) || (len(entries) > 0 && !reflect.DeepEqual(entries, again)) {
			t.Fatalf("RECORD %q: %+v, re-encoded %+v", s, entries, again)
		}
	})
}
