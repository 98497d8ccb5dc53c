package unpackcache

import (
	"errors"
	"os/user"
	"strings"
	"testing"
)

func TestDefaultRoot(t *testing.T) {
	someone := &user.User{Username: "alice", HomeDir: "/home/alice"}
	service := &user.User{Username: "mathesar", HomeDir: "/var/lib/mathesar"}
	tests := []struct {
		name    string
		env     map[string]string
		euid    int
		user    *user.User
		want    string
		wantErr string
	}{
		{"override wins over everything", map[string]string{EnvCacheDir: "/srv/cache/", "CACHE_DIRECTORY": "/var/cache/m"}, 0, someone, "/srv/cache", ""},
		{"relative override is refused", map[string]string{EnvCacheDir: "cache"}, 1000, someone, "", "is not an absolute path"},
		{"systemd CacheDirectory", map[string]string{"CACHE_DIRECTORY": "/var/cache/mathesar:/var/cache/other"}, 998, service, "/var/cache/mathesar", ""},
		{"root", map[string]string{"HOME": "/root", "XDG_CACHE_HOME": "/root/.xdg"}, 0, &user.User{Username: "root", HomeDir: "/root"}, "/var/cache/mathesar", ""},
		{"mathesar system user", map[string]string{"HOME": "/var/lib/mathesar"}, 998, service, "/var/cache/mathesar", ""},
		{"a user named mathesar with a normal home", map[string]string{"HOME": "/home/mathesar"}, 1001, &user.User{Username: "mathesar", HomeDir: "/home/mathesar"}, "/home/mathesar/.cache/mathesar", ""},
		{"XDG_CACHE_HOME", map[string]string{"HOME": "/home/alice", "XDG_CACHE_HOME": "/home/alice/.xdg"}, 1000, someone, "/home/alice/.xdg/mathesar", ""},
		{"relative XDG_CACHE_HOME is ignored", map[string]string{"HOME": "/home/alice", "XDG_CACHE_HOME": "xdg"}, 1000, someone, "/home/alice/.cache/mathesar", ""},
		{"HOME unset falls back to the user database", map[string]string{}, 1000, someone, "/home/alice/.cache/mathesar", ""},
		{"no home at all", map[string]string{}, 1000, nil, "", "set " + EnvCacheDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := func() (*user.User, error) {
				if tt.user == nil {
					return nil, errors.New("user: unknown userid")
				}
				return tt.user, nil
			}
			got, err := defaultRoot(func(k string) string { return tt.env[k] }, tt.euid, current)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
