package pyreq

import (
	"slices"
	"strings"
	"testing"
)

type reqCase struct {
	in      string
	name    string
	extras  []string
	spec    string
	url     string
	marker  string // Marker.String(), "" for none
	pin     string
	pinned  bool
	str     string // Requirement.String()
	wantErr string // substring of the error; "" for success
}

var reqCases = []reqCase{
	{in: "requests", name: "requests", str: "requests"},
	{in: "  requests \t", name: "requests", str: "requests"},
	{in: "Django==4.2.29", name: "Django", spec: "==4.2.29", pin: "4.2.29", pinned: true, str: "Django==4.2.29"},
	{in: "django-allauth[socialaccount]==65.14.1", name: "django-allauth", extras: []string{"socialaccount"},
		spec: "==65.14.1", pin: "65.14.1", pinned: true, str: "django-allauth[socialaccount]==65.14.1"},
	{in: "psycopg [ binary , pool ]  ==  3.2.10", name: "psycopg", extras: []string{"binary", "pool"},
		spec: "==3.2.10", pin: "3.2.10", pinned: true, str: "psycopg[binary,pool]==3.2.10"},
	{in: "name[B,a,b,Foo_Bar]", name: "name", extras: []string{"a", "b", "foo-bar"}, str: "name[a,b,foo-bar]"},
	{in: "name[]", name: "name", str: "name"},
	{in: "name (>=1.0, <2)", name: "name", spec: ">=1.0,<2", str: "name>=1.0,<2"},
	{in: "name(>= 1.0)", name: "name", spec: ">=1.0", str: "name>=1.0"},
	{in: "name ( )", name: "name", str: "name"},
	{in: "name>=1.0,<2;python_version<'3.11'", name: "name", spec: ">=1.0,<2", marker: `python_version < "3.11"`,
		str: `name>=1.0,<2; python_version < "3.11"`},
	{in: "name (==1.0) ; os_name == 'posix'", name: "name", spec: "==1.0", pin: "1.0", pinned: true,
		marker: `os_name == "posix"`, str: `name==1.0; os_name == "posix"`},
	{in: "name;os_name=='posix'", name: "name", marker: `os_name == "posix"`, str: `name; os_name == "posix"`},
	{in: "name===1.0-foo", name: "name", spec: "===1.0-foo", pin: "1.0-foo", pinned: true, str: "name===1.0-foo"},
	{in: "name==1.*", name: "name", spec: "==1.*", str: "name==1.*"},
	{in: "name~=1.4", name: "name", spec: "~=1.4", str: "name~=1.4"},
	{in: "name==1.0,!=1.1", name: "name", spec: "==1.0,!=1.1", str: "name==1.0,!=1.1"},
	{in: "name==1.0+local.7", name: "name", spec: "==1.0+local.7", pin: "1.0+local.7", pinned: true, str: "name==1.0+local.7"},
	{in: "name!=2.0rc1,>1!0.5.post2.dev3", name: "name", spec: "!=2.0rc1,>1!0.5.post2.dev3", str: "name!=2.0rc1,>1!0.5.post2.dev3"},
	{in: "zope.interface>=5", name: "zope.interface", spec: ">=5", str: "zope.interface>=5"},
	{in: "name @ https://example.org/name-1.0.whl", name: "name", url: "https://example.org/name-1.0.whl",
		str: "name @ https://example.org/name-1.0.whl"},
	{in: "name[E]@https://x/y;z ; python_version >= '3'", name: "name", extras: []string{"e"}, url: "https://x/y;z",
		marker: `python_version >= "3"`, str: `name[e] @ https://x/y;z ; python_version >= "3"`},

	{in: "", wantErr: "does not start with a package name"},
	{in: "-name", wantErr: "not a valid package name"},
	{in: "name-", wantErr: "not a valid package name"},
	{in: "na me", wantErr: `unexpected "me"`},
	{in: "name==v1.0", wantErr: "not a PEP 440 version"},
	{in: "name==1.0||2.0", wantErr: "not a PEP 440 version"},
	{in: "name==", wantErr: "has no version"},
	{in: "name=1.0", wantErr: "expected a version operator"},
	{in: "name>=1.0.*", wantErr: "wildcard is only allowed with == or !="},
	{in: "name==1.0a1.*", wantErr: "must follow a plain release"},
	{in: "name~=1", wantErr: "not a valid PEP 440 specifier"},
	{in: "name>1.0+local", wantErr: "not a valid PEP 440 specifier"},
	{in: "name==1.0.foo", wantErr: "not a valid PEP 440 specifier"},
	{in: "name>=1.0 <2", wantErr: `unexpected "<2"`},
	{in: "name>=1.0,", wantErr: "expected a version operator"},
	{in: "name[extra", wantErr: "never closed"},
	{in: "name[a,,b]", wantErr: `extra "" is not a valid name`},
	{in: "name[a b]", wantErr: `extra "a b" is not a valid name`},
	{in: "name (>=1.0", wantErr: "never closed"},
	{in: "name==1.0[x]", wantErr: "extras must come right after the name"},
	{in: "name==1.0 @ https://x", wantErr: "both a version and a URL"},
	{in: "name @", wantErr: "nothing follows @"},
	{in: "name @ https://x junk", wantErr: "only '; marker' may follow"},
	{in: "name>=1.0;", wantErr: "nothing follows ';'"},
	{in: "name; os.name == 'posix'", wantErr: "legacy variable os.name"},
}

func TestParseRequirement(t *testing.T) {
	for _, tt := range reqCases {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRequirement(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRequirement(%q) error = %v, want one containing %q (got %+v)", tt.in, err, tt.wantErr, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequirement(%q): %v", tt.in, err)
			}
			if r.Name != tt.name || !slices.Equal(r.Extras, tt.extras) || r.Specifier != tt.spec || r.URL != tt.url {
				t.Errorf("got name=%q extras=%q spec=%q url=%q, want name=%q extras=%q spec=%q url=%q",
					r.Name, r.Extras, r.Specifier, r.URL, tt.name, tt.extras, tt.spec, tt.url)
			}
			if got := r.Marker.String(); got != tt.marker {
				t.Errorf("marker = %q, want %q", got, tt.marker)
			}
			if pin, ok := r.Pin(); pin != tt.pin || ok != tt.pinned {
				t.Errorf("Pin() = %q, %v; want %q, %v", pin, ok, tt.pin, tt.pinned)
			}
			if got := r.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			again, err := ParseRequirement(r.String())
			if err != nil || again.String() != r.String() {
				t.Errorf("String() %q does not re-parse to itself: %q, %v", r.String(), again.String(), err)
			}
		})
	}
}
