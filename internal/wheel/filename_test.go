package wheel

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
)

func TestParseTagSet(t *testing.T) {
	tag := func(s string) pytags.Tag {
		tg, err := pytags.ParseTag(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "py3-none-any", want: []string{"py3-none-any"}},
		{in: "py2.py3-none-any", want: []string{"py2-none-any", "py3-none-any"}},
		{in: "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", want: []string{"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"}},
		{in: "cp37.cp38-abi3.none-any", want: []string{"cp37-abi3-any", "cp37-none-any", "cp38-abi3-any", "cp38-none-any"}},
		{in: "PY3-None-Any", want: []string{"py3-none-any"}},
		{in: "py3.py3-none-any", want: []string{"py3-none-any"}},
		{in: "py3-none", wantErr: "want interpreters-abis-platforms"},
		{in: "py3-none-any-x", wantErr: "want interpreters-abis-platforms"},
		{in: "py3..py2-none-any", wantErr: `part ""`},
		{in: "py3-no ne-any", wantErr: `part "no ne"`},
	}
	for _, tc := range tests {
		got, err := ParseTagSet(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTagSet(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		var want []pytags.Tag
		for _, s := range tc.want {
			want = append(want, tag(s))
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseTagSet(%q) = %v, %v; want %v", tc.in, got, err, want)
		}
	}
}

func TestParseFilename(t *testing.T) {
	tests := []struct {
		in                   string
		name, version, build string
		tags                 string // FormatTagSet of the result
		wantErr              string
	}{
		{in: "django_storages-1.14.4-py3-none-any.whl", name: "django_storages", version: "1.14.4", tags: "py3-none-any"},
		{in: "psycopg_binary-3.2.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", name: "psycopg_binary", version: "3.2.3", tags: "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"},
		{in: "six-1.16.0-py2.py3-none-any.whl", name: "six", version: "1.16.0", tags: "py2.py3-none-any"},
		{in: "demo-1.0-1-py3-none-any.whl", name: "demo", version: "1.0", build: "1", tags: "py3-none-any"},
		{in: "demo-1.0-20local-py3-none-any.whl", name: "demo", version: "1.0", build: "20local", tags: "py3-none-any"},
		{in: "zope.interface-6.0-cp311-cp311-win_amd64.whl", name: "zope.interface", version: "6.0", tags: "cp311-cp311-win_amd64"},
		{in: "demo-1.0_post1-py3-none-any.whl", name: "demo", version: "1.0_post1", tags: "py3-none-any"},
		{in: "Demo-1!2.0rc1.dev3+local.7-py3-none-any.whl", name: "Demo", version: "1!2.0rc1.dev3+local.7", tags: "py3-none-any"},
		{in: "demo-1.0-py3-none-any.zip", wantErr: "does not end in .whl"},
		{in: "demo-1.0-none-any.whl", wantErr: "has 4 dash-separated fields"},
		{in: "demo-1.0-1-2-py3-none-any.whl", wantErr: "has 7 dash-separated fields"},
		{in: "demo-1.0-b1-py3-none-any.whl", wantErr: `build tag "b1"`},
		{in: "demo-one-py3-none-any.whl", wantErr: `version "one"`},
		{in: "de__mo-1.0-py3-none-any.whl", wantErr: "not a valid escaped name"},
		{in: "_demo-1.0-py3-none-any.whl", wantErr: "not a valid escaped name"},
		{in: "-1.0-py3-none-any.whl", wantErr: "not a valid escaped name"},
		{in: "demo-1.0-py3-none-.whl", wantErr: `part ""`},
	}
	for _, tc := range tests {
		f, err := ParseFilename(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseFilename(%q) error = %v, want one naming the file and %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilename(%q): %v", tc.in, err)
			continue
		}
		if f.Name != tc.name || f.Version != tc.version || f.Build != tc.build || FormatTagSet(f.Tags) != tc.tags {
			t.Errorf("ParseFilename(%q) = %+v", tc.in, f)
		}
		if f.String() != tc.in {
			t.Errorf("ParseFilename(%q).String() = %q", tc.in, f.String())
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ in, normalized, escaped string }{
		{"Django-Storages", "django-storages", "django_storages"},
		{"zope.interface", "zope-interface", "zope_interface"},
		{"A__b-.C", "a-b-c", "a_b_c"},
	}
	for _, tc := range tests {
		if got := NormalizeName(tc.in); got != tc.normalized {
			t.Errorf("NormalizeName(%q) = %q, want %q", tc.in, got, tc.normalized)
		}
		if got := EscapeName(tc.in); got != tc.escaped {
			t.Errorf("EscapeName(%q) = %q, want %q", tc.in, got, tc.escaped)
		}
	}
}
