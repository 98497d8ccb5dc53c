package envfile

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quotedFile writes a file of Quote'd values so systemd itself checks that Quote's
// output reads back unchanged.
func quotedFile(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i, v := range []string{"", "plain", " spaced ", "tab\tnl\ncr\r", `back\slash\`, `"q" 'q' ` + "`t`", "$HOME ${X}", "#;=", "é✓"} {
		b.WriteString("Q" + strconv.Itoa(i) + "=" + Quote(v) + "\n")
	}
	f := filepath.Join(t.TempDir(), "quoted.env")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCompareWithSystemd checks the parser against real systemd in every way available:
// systemd's own library (needs systemd installed and a C compiler), systemd as PID 1
// here (needs root), and a booted container (MATHESAR_TEST_NSENTER_PID).
func TestCompareWithSystemd(t *testing.T) {
	files := append(corpusFiles(t), quotedFile(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("libsystemd-shared", func(t *testing.T) {
		r, err := BuildHarness(ctx, t.TempDir())
		if err != nil {
			t.Skipf("cannot call systemd's own parser here: %v", err)
		}
		if err := CompareWithSystemd(ctx, r, files); err != nil {
			t.Error(err)
		}
	})
	t.Run("systemd-run", func(t *testing.T) {
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			t.Skip("systemd is not PID 1 here; run this test on a systemd host as root, or set MATHESAR_TEST_NSENTER_PID to the host pid of a booted container's init")
		}
		if os.Geteuid() != 0 {
			t.Skip("systemd-run against the system manager needs root; run go test as root")
		}
		if err := CompareWithSystemd(ctx, SystemdRun(), files); err != nil {
			t.Error(err)
		}
	})
	t.Run("nsenter", func(t *testing.T) {
		v := os.Getenv("MATHESAR_TEST_NSENTER_PID")
		if v == "" {
			t.Skip("set MATHESAR_TEST_NSENTER_PID to the host pid of a booted systemd container's init (e.g. docker inspect -f '{{.State.Pid}}' NAME) and run as root")
		}
		pid, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("MATHESAR_TEST_NSENTER_PID=%q is not a pid", v)
		}
		if err := CompareWithSystemd(ctx, Nsenter(pid), files); err != nil {
			t.Error(err)
		}
	})
}

// TestCompareDetectsDifferences runs the comparator against a reader that is not
// systemd (it takes each line literally), so a comparator that always agreed would fail.
func TestCompareDetectsDifferences(t *testing.T) {
	naive := Runner{Name: "naive line reader", Argv: []string{"sh", "-c", `tr '\n' '\0' < "$1"`, "sh", "{file}"}}
	dir := t.TempDir()
	same := filepath.Join(dir, "same.env")
	differs := filepath.Join(dir, "differs.env")
	os.WriteFile(same, []byte("A=1\nB=two\n"), 0o644)
	os.WriteFile(differs, []byte("A=\"quoted\"\nexport B=2\n"), 0o644)
	ctx := context.Background()
	if err := CompareWithSystemd(ctx, naive, []string{same}); err != nil {
		t.Errorf("plain file: %v", err)
	}
	err := CompareWithSystemd(ctx, naive, []string{differs})
	if err == nil {
		t.Fatal("the comparator did not notice that the naive reader reads A=\"quoted\" differently")
	}
	for _, want := range []string{`A: Parse reads "quoted", naive line reader reads "\"quoted\""`, `naive line reader sets export B="2", Parse does not`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
