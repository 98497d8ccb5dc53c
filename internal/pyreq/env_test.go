package pyreq

import (
	"maps"
	"strings"
	"testing"
)

func TestTargetEnv(t *testing.T) {
	tests := []struct {
		minor, patch int
		goos, goarch string
		want         Env
		wantErr      string
	}{
		{minor: 10, patch: 14, goos: "linux", goarch: "amd64", want: Env{
			"implementation_name": "cpython", "implementation_version": "3.10.14", "os_name": "posix",
			"platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_system": "Linux",
			"python_full_version": "3.10.14", "python_version": "3.10", "sys_platform": "linux",
		}},
		{minor: 12, patch: 1, goos: "linux", goarch: "arm64", want: Env{
			"implementation_name": "cpython", "implementation_version": "3.12.1", "os_name": "posix",
			"platform_machine": "aarch64", "platform_python_implementation": "CPython", "platform_system": "Linux",
			"python_full_version": "3.12.1", "python_version": "3.12", "sys_platform": "linux",
		}},
		{minor: 14, patch: 0, goos: "darwin", goarch: "arm64", want: Env{
			"implementation_name": "cpython", "implementation_version": "3.14.0", "os_name": "posix",
			"platform_machine": "arm64", "platform_python_implementation": "CPython", "platform_system": "Darwin",
			"python_full_version": "3.14.0", "python_version": "3.14", "sys_platform": "darwin",
		}},
		{minor: 11, patch: 2, goos: "darwin", goarch: "amd64", want: Env{
			"implementation_name": "cpython", "implementation_version": "3.11.2", "os_name": "posix",
			"platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_system": "Darwin",
			"python_full_version": "3.11.2", "python_version": "3.11", "sys_platform": "darwin",
		}},
		{minor: 12, patch: 0, goos: "windows", goarch: "amd64", wantErr: "use linux or darwin"},
		{minor: 12, patch: 0, goos: "linux", goarch: "386", wantErr: "use amd64 or arm64"},
		{minor: -1, patch: 0, goos: "linux", goarch: "amd64", wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		got, err := TargetEnv(tt.minor, tt.patch, tt.goos, tt.goarch)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("TargetEnv(%d, %d, %s, %s) error = %v, want %q", tt.minor, tt.patch, tt.goos, tt.goarch, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("TargetEnv(%d, %d, %s, %s): %v", tt.minor, tt.patch, tt.goos, tt.goarch, err)
			continue
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("TargetEnv(%d, %d, %s, %s) = %v, want %v", tt.minor, tt.patch, tt.goos, tt.goarch, got, tt.want)
		}
	}
}

func TestWithExtraCopies(t *testing.T) {
	base := Env{"os_name": "posix"}
	withExtra := base.WithExtra("azure")
	if _, leaked := base["extra"]; leaked {
		t.Errorf("WithExtra changed its receiver: %v", base)
	}
	if withExtra["extra"] != "azure" || withExtra["os_name"] != "posix" {
		t.Errorf("WithExtra = %v, want os_name and extra set", withExtra)
	}
	if got := Env(nil).WithExtra(""); got["extra"] != "" || len(got) != 1 {
		t.Errorf("nil.WithExtra(\"\") = %v", got)
	}
}
