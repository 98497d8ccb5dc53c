package pyreq

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustTarget(minor, patch int, goos, goarch string) Env {
	env, err := TargetEnv(minor, patch, goos, goarch)
	if err != nil {
		panic(err)
	}
	return env
}

var (
	linux312  = mustTarget(12, 4, "linux", "amd64")
	linux3120 = mustTarget(12, 0, "linux", "amd64")
	linux311  = mustTarget(11, 9, "linux", "arm64")
	linux310  = mustTarget(10, 14, "linux", "amd64")
	darwin314 = mustTarget(14, 0, "darwin", "arm64")
	darwin313 = mustTarget(13, 2, "darwin", "amd64")
)

type markerCase struct {
	marker string
	env    Env
	want   bool
	err    string // substring of the parse or evaluation error; "" for success
	// py says why pip's vendored packaging is expected to disagree; "" means the cross-check
	// must agree. pyNeeds22 rows hold only with packaging >= 22 (PEP 685).
	py        string
	pyNeeds22 bool
}

const (
	pyLegacyAccepted  = "packaging < 22 still accepts this form"
	pyBothSides       = "packaging parses two literals or two variables, then looks a literal up as a variable"
	pyNonVersionCheck = "packaging answers False for any comparison of a non-version with a version specifier; PEP 508 says compare strings"
)

var markerCases = []markerCase{
	// precedence: and binds tighter than or
	{marker: `os_name == "nt" and sys_platform == "linux" or python_version == "3.12"`, env: linux312, want: true},
	{marker: `python_version == "3.12" or os_name == "nt" and sys_platform == "win32"`, env: linux312, want: true},
	{marker: `(python_version == "3.12" or os_name == "nt") and sys_platform == "win32"`, env: linux312, want: false},
	{marker: `os_name == "posix" and (sys_platform == "win32" or platform_machine == "x86_64")`, env: linux312, want: true},
	{marker: `((os_name == "posix"))`, env: linux312, want: true},
	{marker: `os_name == "nt" or os_name == "java" or (sys_platform == "linux" and (python_version < "3.11" or python_version >= "3.12"))`, env: linux311, want: false},
	{marker: `os_name == "nt" or os_name == "java" or (sys_platform == "linux" and (python_version < "3.11" or python_version >= "3.12"))`, env: linux312, want: true},
	// quoting and spacing
	{marker: `os_name == 'posix'`, env: linux312, want: true},
	{marker: `"posix" == os_name`, env: linux312, want: true},
	{marker: `platform_machine != "x'y"`, env: linux312, want: true},
	{marker: `platform_machine != 'x"y'`, env: linux312, want: true},
	{marker: "python_version>='3.10'and os_name=='posix'", env: linux310, want: true},
	{marker: "python_version\t>=\n'3.11'", env: linux310, want: false},
	// versions compare as PEP 440 versions, not strings
	{marker: `python_version >= "3.10"`, env: linux312, want: true},
	{marker: `python_version < "3.9"`, env: linux312, want: false},
	{marker: `python_version > "3.2"`, env: linux312, want: true},
	{marker: `"3.11" < python_version`, env: linux312, want: true},
	{marker: `"3.13" < python_version`, env: linux312, want: false},
	{marker: `python_version <= "3.12"`, env: linux312, want: true},
	{marker: `python_version >= "3"`, env: linux310, want: true},
	{marker: `python_full_version == "3.12"`, env: linux3120, want: true},
	{marker: `python_full_version == "3.12"`, env: linux312, want: false},
	{marker: `python_full_version < "3.12.4"`, env: linux312, want: false},
	{marker: `python_full_version <= "3.12.4"`, env: linux312, want: true},
	{marker: `python_full_version > "3.12.3"`, env: linux312, want: true},
	{marker: `python_full_version == "3.12.*"`, env: linux312, want: true},
	{marker: `python_version == "3.1.*"`, env: linux312, want: false},
	{marker: `python_version == "3.12.0.*"`, env: linux312, want: true},
	{marker: `python_full_version == "3.12.4.0.*"`, env: linux312, want: true},
	{marker: `python_full_version == "3.12.4.1.*"`, env: linux312, want: false},
	{marker: `python_version ~= "3.12.0.0"`, env: linux312, want: true},
	{marker: `python_full_version ~= "3.12.4.0"`, env: linux312, want: true},
	{marker: `python_full_version == "3.12.4+local"`, env: linux312, want: false},
	{marker: `python_full_version != "3.12.4"`, env: linux312, want: false},
	{marker: `python_version == "3.10"`, env: linux310, want: true},
	{marker: `python_version == "3.1"`, env: linux310, want: false},
	{marker: `python_version != "3.12.*"`, env: linux312, want: false},
	{marker: `python_version != "3.1*"`, env: linux312, want: true},
	{marker: `python_version ~= "3.10"`, env: linux312, want: true},
	{marker: `python_version ~= "3.10"`, env: linux310, want: true},
	{marker: `python_full_version ~= "3.12.1"`, env: linux312, want: true},
	{marker: `python_full_version ~= "3.12.1"`, env: darwin313, want: false},
	{marker: `python_full_version ~= "3.10.15"`, env: linux310, want: false},
	{marker: `python_version === "3.12"`, env: linux312, want: true},
	{marker: `python_full_version === "3.12"`, env: linux312, want: false},
	{marker: `implementation_name === "CPython"`, env: linux312, want: true},
	{marker: `implementation_version >= "3.14"`, env: darwin314, want: true},
	// strings
	{marker: `sys_platform == "linux"`, env: linux312, want: true},
	{marker: `sys_platform != "linux"`, env: linux312, want: false},
	{marker: `platform_machine == "X86_64"`, env: linux312, want: false},
	{marker: `platform_machine == "1.0"`, env: linux312, want: false},
	{marker: `platform_machine != "1.0"`, env: linux312, want: true, py: pyNonVersionCheck},
	{marker: `"linux" in sys_platform`, env: linux312, want: true},
	{marker: `sys_platform in "linux darwin"`, env: darwin314, want: true},
	{marker: `sys_platform not in "win32 cygwin"`, env: linux312, want: true},
	{marker: `platform_machine in "x86_64 aarch64"`, env: darwin314, want: false},
	{marker: `platform_machine in "x86_64 aarch64"`, env: linux311, want: true},
	{marker: `python_version in "3.10 3.11"`, env: linux312, want: false},
	{marker: `python_version in "3.10 3.11"`, env: linux311, want: true},
	{marker: `python_version not in "3.10 3.11"`, env: linux311, want: false},
	{marker: `os_name < "posix"`, env: linux312, err: "needs PEP 440 versions on both sides"},
	{marker: `sys_platform ~= "linux"`, env: linux312, err: "needs PEP 440 versions on both sides"},
	// every TargetEnv variable, on two platforms
	{marker: `os_name == "posix" and sys_platform == "darwin" and platform_system == "Darwin" and platform_machine == "arm64"`, env: darwin314, want: true},
	{marker: `implementation_name == "cpython" and platform_python_implementation == "CPython"`, env: darwin314, want: true},
	{marker: `python_version == "3.14" and python_full_version == "3.14.0" and implementation_version == "3.14.0"`, env: darwin314, want: true},
	{marker: `sys_platform == "linux" and platform_system == "Linux" and platform_machine == "aarch64"`, env: linux311, want: true},
	{marker: `platform_machine == "x86_64" and platform_system == "Darwin"`, env: darwin313, want: true},
	{marker: `platform_python_implementation == "PyPy"`, env: linux311, want: false},
	// extra: PEP 685 normalisation
	{marker: `extra == "Social_Account"`, env: linux312.WithExtra("social-account"), want: true, pyNeeds22: true},
	{marker: `extra == "azure"`, env: linux312.WithExtra("Azure"), want: true, pyNeeds22: true},
	{marker: `extra == "socialaccount"`, env: linux312.WithExtra(""), want: false},
	{marker: `extra == "socialaccount"`, env: linux312, err: "extra is not set"},
	// variables a target cannot know, and the short-circuit that still decides
	{marker: `platform_release >= "5"`, env: linux312, err: "platform_release has no value"},
	{marker: `platform_version == "x"`, env: darwin314, err: "platform_version has no value"},
	{marker: `sys_platform == "win32" and platform_release >= "10"`, env: linux312, want: false},
	{marker: `sys_platform == "linux" or platform_version == "x"`, env: linux312, want: true},
	{marker: `sys_platform == "linux" and platform_release >= "5"`, env: linux312, err: "platform_release has no value"},
	{marker: `platform_release >= "5" or sys_platform == "win32"`, env: linux312, err: "platform_release has no value"},
	// parse errors
	{marker: `os.name == "posix"`, err: "legacy variable os.name", py: pyLegacyAccepted},
	{marker: `sys.platform == "linux"`, err: "write sys_platform", py: pyLegacyAccepted},
	{marker: `python_implementation == "CPython"`, err: "write platform_python_implementation", py: pyLegacyAccepted},
	{marker: `"a" == "b"`, err: "compares two literals", py: pyBothSides},
	{marker: `python_version == python_full_version`, err: "compares two variables", py: pyBothSides},
	{marker: `python_version >= 3.10`, err: "values must be quoted"},
	{marker: `python_version`, err: "ends where an operator"},
	{marker: `python_version ==`, err: "variable or quoted value is expected"},
	{marker: `(python_version == "3.12"`, err: "never closed"},
	{marker: `python_version == "3.12")`, err: `unexpected ")"`},
	{marker: `python_version == "3.12" os_name == "posix"`, err: "join conditions with 'and' or 'or'"},
	{marker: `python_version not "3"`, err: "must be followed by 'in'"},
	{marker: `foo == "x"`, err: `unknown variable "foo"`},
	{marker: `python_version == "3.12" and`, err: "ends where a condition"},
	{marker: `python_version = "3"`, err: "unexpected '='"},
	{marker: `python_version == "3.12`, err: "no closing"},
	{marker: ``, err: "ends where a condition"},
	{marker: `()`, err: `unexpected ")"`},
}

func (c markerCase) name() string {
	return fmt.Sprintf("%s/%s_%s_%s", c.marker, c.env["python_full_version"], c.env["sys_platform"], c.env["platform_machine"])
}

func TestMarkerEvaluate(t *testing.T) {
	for _, tt := range markerCases {
		t.Run(tt.name(), func(t *testing.T) {
			got, err := evalMarker(tt.marker, tt.env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q (result %v)", err, tt.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}
}

func evalMarker(s string, env Env) (bool, error) {
	m, err := ParseMarker(s)
	if err != nil {
		return false, err
	}
	return m.Evaluate(env)
}

func TestNilMarkerAlwaysHolds(t *testing.T) {
	var m *Marker
	if ok, err := m.Evaluate(nil); !ok || err != nil {
		t.Errorf("nil marker Evaluate = %v, %v; want true, nil", ok, err)
	}
	r, err := ParseRequirement("name==1.0")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Marker.Evaluate(linux312); !ok || err != nil {
		t.Errorf("marker of %q Evaluate = %v, %v; want true, nil", r, ok, err)
	}
}

func TestMarkerString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`python_version<'3.11'`, `python_version < "3.11"`},
		{`(os_name == "a" or os_name == "b") and sys_platform == "c"`, `(os_name == "a" or os_name == "b") and sys_platform == "c"`},
		{`os_name == "a" or (os_name == "b" and sys_platform == "c")`, `os_name == "a" or os_name == "b" and sys_platform == "c"`},
		{`os_name == "a" and (os_name == "b" and (sys_platform == "c"))`, `os_name == "a" and os_name == "b" and sys_platform == "c"`},
		{`((os_name == "a"))`, `os_name == "a"`},
		{`os_name == 'x"y'`, `os_name == 'x"y'`},
		{`os_name   not    in "x"`, `os_name not in "x"`},
		{`"3.1" <= python_version`, `"3.1" <= python_version`},
	}
	for _, tt := range tests {
		m, err := ParseMarker(tt.in)
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", tt.in, err)
			continue
		}
		if got := m.String(); got != tt.want {
			t.Errorf("ParseMarker(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarkerVariables(t *testing.T) {
	m, err := ParseMarker(`sys_platform == "linux" and (python_version >= "3.11" or "x" in platform_release) and sys_platform != "y"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"platform_release", "python_version", "sys_platform"}
	if got := m.Variables(); !slices.Equal(got, want) {
		t.Errorf("Variables() = %q, want %q", got, want)
	}
}
