package pgsetup_test

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

// clearPGEnv keeps libpq's environment defaults (and ~/.pgpass) out of parsing results.
func clearPGEnv(t *testing.T) {
	for _, k := range []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGSERVICE", "PGSSLROOTCERT"} {
		t.Setenv(k, "")
	}
	t.Setenv("PGPASSFILE", "/nonexistent")
}

func TestParseConnectionString(t *testing.T) {
	clearPGEnv(t)
	tests := []struct {
		name    string
		in      string
		want    *pgsetup.ConnInfo
		wantErr string
	}{
		{"url", "postgres://mathesar:s3cret@db.example.com:6543/mathesar_django",
			&pgsetup.ConnInfo{Host: "db.example.com", Port: 6543, User: "mathesar", Password: "s3cret", Database: "mathesar_django", SSLMode: "prefer"}, ""},
		{"postgresql scheme, default port, require", "postgresql://m@10.0.0.5/mdb?sslmode=require",
			&pgsetup.ConnInfo{Host: "10.0.0.5", Port: 5432, User: "m", Database: "mdb", SSLMode: "require"}, ""},
		{"escaped password", "postgres://mathesar:p%40ss%2Fw%3Ard@h/d?sslmode=disable",
			&pgsetup.ConnInfo{Host: "h", Port: 5432, User: "mathesar", Password: "p@ss/w:rd", Database: "d", SSLMode: "disable"}, ""},
		{"ipv6", "postgres://u:pw@[::1]:5433/d",
			&pgsetup.ConnInfo{Host: "::1", Port: 5433, User: "u", Password: "pw", Database: "d", SSLMode: "prefer"}, ""},
		{"socket in url", "postgres:///mathesar_django?host=/var/run/postgresql&user=mathesar",
			&pgsetup.ConnInfo{Host: "/var/run/postgresql", Port: 5432, User: "mathesar", Database: "mathesar_django", SSLMode: "disable"}, ""},
		{"dsn", "host=db port=5444 user=mathesar password='a b' dbname=mathesar_django sslmode=disable",
			&pgsetup.ConnInfo{Host: "db", Port: 5444, User: "mathesar", Password: "a b", Database: "mathesar_django", SSLMode: "disable"}, ""},
		{"dsn socket", "host=/run/pg user=mathesar dbname=x",
			&pgsetup.ConnInfo{Host: "/run/pg", Port: 5432, User: "mathesar", Database: "x", SSLMode: "disable"}, ""},
		{"empty", "  ", nil, "empty connection string"},
		{"bad port", "postgres://u:topsecret@h:notaport/d", nil, "read connection string"},
		{"bad sslmode", "postgres://u@h/d?sslmode=sometimes", nil, "sslmode is invalid"},
		{"verify-full", "postgres://u@h/d?sslmode=verify-full", nil, "sslmode verify-ca/verify-full"},
		{"allow", "postgres://u@h/d?sslmode=allow", nil, "sslmode allow is not supported"},
		{"two hosts", "postgres://u@h1,h2/d", nil, "several servers"},
		{"not a url or dsn", "mysql://u@h/d", nil, "read connection string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pgsetup.ParseConnectionString(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "topsecret") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConnInfoEnvAndString(t *testing.T) {
	tests := []struct {
		ci      pgsetup.ConnInfo
		env     []string
		str     string
		noMatch string
	}{
		{pgsetup.ConnInfo{Host: "db.example.com", Port: 5432, User: "mathesar", Password: "hunter2", Database: "mathesar_django", SSLMode: "require"},
			[]string{"POSTGRES_DB=mathesar_django", "POSTGRES_HOST=db.example.com", "POSTGRES_PASSWORD=hunter2", "POSTGRES_PORT=5432", "POSTGRES_SSLMODE=require", "POSTGRES_USER=mathesar"},
			"postgres://mathesar@db.example.com:5432/mathesar_django?sslmode=require", "hunter2"},
		{pgsetup.ConnInfo{Host: "/var/run/postgresql", Port: 5432, User: "mathesar", Database: "mathesar_django"},
			[]string{"POSTGRES_DB=mathesar_django", "POSTGRES_HOST=/var/run/postgresql", "POSTGRES_PORT=5432", "POSTGRES_USER=mathesar"},
			"postgres://mathesar@/mathesar_django?host=%2Fvar%2Frun%2Fpostgresql&port=5432", "PASSWORD"},
	}
	for _, tc := range tests {
		t.Run(tc.ci.Host, func(t *testing.T) {
			if got := tc.ci.Env(); !reflect.DeepEqual(got, tc.env) {
				t.Errorf("Env() = %q, want %q", got, tc.env)
			}
			if got := tc.ci.String(); got != tc.str || strings.Contains(got, tc.noMatch) {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			// The environment must read back as the same connection.
			m := map[string]string{}
			for _, kv := range tc.ci.Env() {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			back, ok, err := pgsetup.ConnInfoFromEnv(func(k string) string { return m[k] })
			if err != nil || !ok || !reflect.DeepEqual(*back, tc.ci) {
				t.Errorf("ConnInfoFromEnv(Env()) = %+v, %v, %v", back, ok, err)
			}
		})
	}
}

func TestConnInfoFromEnvErrors(t *testing.T) {
	tests := []struct {
		env     map[string]string
		ok      bool
		wantErr string
	}{
		{map[string]string{}, false, ""},
		{map[string]string{"POSTGRES_DB": "d"}, false, "POSTGRES_HOST, POSTGRES_USER not set"},
		{map[string]string{"POSTGRES_DB": "d", "POSTGRES_USER": "u", "POSTGRES_HOST": "h", "POSTGRES_PORT": "99999"}, false, "not a port number"},
		{map[string]string{"POSTGRES_DB": "d", "POSTGRES_USER": "u", "POSTGRES_HOST": "h", "POSTGRES_SSLMODE": "verify-full"}, false, "use disable, prefer or require"},
		{map[string]string{"POSTGRES_DB": "d", "POSTGRES_USER": "u", "POSTGRES_HOST": "h"}, true, ""},
	}
	for _, tc := range tests {
		_, ok, err := pgsetup.ConnInfoFromEnv(func(k string) string { return tc.env[k] })
		if ok != tc.ok || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ConnInfoFromEnv(%v) = ok %v, err %v; want ok %v, error containing %q", tc.env, ok, err, tc.ok, tc.wantErr)
		}
	}
}

// TestCheckUnreachable uses a closed port (refused) and a port that accepts but never
// answers (must time out, not hang).
func TestCheckUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port

	for _, port := range []int{closedPort, silentPort} {
		t.Run(strconv.Itoa(port), func(t *testing.T) {
			ci := &pgsetup.ConnInfo{Host: "127.0.0.1", Port: port, User: "mathesar", Password: "pw-must-not-leak", Database: "mathesar_django", SSLMode: "disable"}
			start := time.Now()
			err := pgsetup.Check(context.Background(), ci, 700*time.Millisecond)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Check took %v, want under 3s", took)
			}
			if err == nil {
				t.Fatal("Check succeeded against a port with no PostgreSQL")
			}
			msg := err.Error()
			want := "cannot reach PostgreSQL at 127.0.0.1:" + strconv.Itoa(port) + " (db mathesar_django, user mathesar): "
			if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "; run `mathesar doctor`") {
				t.Errorf("message = %q, want prefix %q and the doctor hint", msg, want)
			}
			if strings.Contains(msg, "pw-must-not-leak") {
				t.Errorf("message shows the password: %q", msg)
			}
		})
	}
}
