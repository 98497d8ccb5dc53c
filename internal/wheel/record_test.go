package wheel

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	h := "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
	tests := []struct {
		name    string
		in      string
		want    []RecordEntry
		wantErr string
	}{
		{
			name: "plain with RECORD last",
			in:   "a/b.py," + h + ",0\na-1.0.dist-info/RECORD,,\n",
			want: []RecordEntry{
				{Path: "a/b.py", HashAlgo: "sha256", Digest: h[7:], Size: 0, HasSize: true},
				{Path: "a-1.0.dist-info/RECORD"},
			},
		},
		{
			name: "quoted comma and quote, CRLF, blank line",
			in:   "\"a/x, y.py\"," + h + ",12\r\n\r\n\"a/\"\"q\"\".py\"," + h + ",3\r\n",
			want: []RecordEntry{
				{Path: "a/x, y.py", HashAlgo: "sha256", Digest: h[7:], Size: 12, HasSize: true},
				{Path: `a/"q".py`, HashAlgo: "sha256", Digest: h[7:], Size: 3, HasSize: true},
			},
		},
		{
			name: "bare quote inside an unquoted field, as Python reads it",
			in:   `a/"q".py,,` + "\n",
			want: []RecordEntry{{Path: `a/"q".py`}},
		},
		{
			name: "no trailing newline, padded digest",
			in:   "x,sha256=AAAA==,1",
			want: []RecordEntry{{Path: "x", HashAlgo: "sha256", Digest: "AAAA==", Size: 1, HasSize: true}},
		},
		{name: "two fields", in: "x," + h + "\n", wantErr: "line 1: 2 fields, want 3"},
		{name: "four fields", in: "ok,,\nx," + h + ",1,2\n", wantErr: "line 2: 4 fields"},
		{name: "negative size", in: "x," + h + ",-1\n", wantErr: `size "-1"`},
		{name: "size overflow", in: "x," + h + ",99999999999999999999\n", wantErr: "out of range"},
		{name: "hash without algorithm", in: "x,abc,1\n", wantErr: `hash "abc"`},
		{name: "hash with bad digest", in: "x,sha256=a/b+,1\n", wantErr: `hash "sha256=a/b+"`},
		{name: "empty path", in: ",,\n", wantErr: "empty path"},
		{name: "control character", in: "\"a\nb\",,\n", wantErr: "control character"},
		{name: "unterminated quote", in: "\"abc,,\n", wantErr: "1 fields, want 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecord(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q (got %+v)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseRecord = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
