package portcheck

import (
	"encoding/binary"
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestReadListening(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures were captured on a little-endian machine")
	}
	tests := []struct {
		file    string
		want    []listenSocket
		wantErr string
	}{
		{file: "testdata/net_tcp", want: []listenSocket{
			{ip: net.IPv4(127, 0, 0, 1).To4(), port: 8000, uid: 105, inode: 41231},
			{ip: net.IPv4zero.To4(), port: 22, uid: 0, inode: 20011},
		}},
		{file: "testdata/net_tcp6", want: []listenSocket{
			{ip: net.IPv6unspecified, port: 8000, uid: 33, inode: 51000},
			{ip: net.IPv6loopback, port: 80, uid: 0, inode: 51001},
			{ip: net.ParseIP("::ffff:127.0.0.1"), port: 9000, uid: 1000, inode: 51002},
		}},
		{file: "testdata/net_tcp_truncated", wantErr: "line 2: 5 fields"},
		{file: "testdata/net_tcp_badaddr", wantErr: "want HEXIP:HEXPORT"},
		{file: "testdata/missing", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := readListening(tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readListening = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readListening =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestClashes(t *testing.T) {
	tests := []struct {
		have, want string
		clash      bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"0.0.0.0", "127.0.0.1", true},
		{"127.0.0.1", "0.0.0.0", true},
		{"::", "127.0.0.1", true},
		{"::1", "127.0.0.1", false},
		{"127.0.0.1", "10.0.0.1", false},
	}
	for _, tt := range tests {
		if got := clashes(net.ParseIP(tt.have), net.ParseIP(tt.want)); got != tt.clash {
			t.Errorf("clashes(%s, %s) = %v, want %v", tt.have, tt.want, got, tt.clash)
		}
	}
}
