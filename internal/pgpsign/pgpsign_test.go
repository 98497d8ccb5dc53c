package pgpsign

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	sec, pub, err := NewTestKey("Release Test", "release@example.org")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.asc")
	os.WriteFile(keyPath, sec, 0o600)
	key, err := LoadKey(keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "mathesar.deb")
	os.WriteFile(data, []byte("package bytes"), 0o644)
	at := time.Unix(1700000000, 0)
	if err := SignFile(key, data, data+".asc", at); err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(data + ".asc")
	if !bytes.HasPrefix(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		t.Fatalf("not an armored signature: %q", sig)
	}
	if _, err := Verify(bytes.NewReader(pub), strings.NewReader("package bytes"), bytes.NewReader(sig)); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, err := Verify(bytes.NewReader(pub), strings.NewReader("tampered bytes"), bytes.NewReader(sig)); err == nil {
		t.Fatal("a signature of other data verified")
	}
	// Ed25519 is deterministic: the same data and time sign to the same bytes.
	if err := SignFile(key, data, data+".2.asc", at); err != nil {
		t.Fatal(err)
	}
	sig2, _ := os.ReadFile(data + ".2.asc")
	if !bytes.Equal(sig, sig2) {
		t.Error("signing twice gave different signatures")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	_, pub, _ := NewTestKey("x", "x@example.org")
	pubPath := filepath.Join(dir, "pub.asc")
	os.WriteFile(pubPath, pub, 0o644)
	garbage := filepath.Join(dir, "garbage.asc")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	cases := map[string]string{
		filepath.Join(dir, "missing.asc"): "MATHESAR_SIGNING_KEY",
		pubPath:                           "public key only",
		garbage:                           "read signing key",
	}
	for path, want := range cases {
		if _, err := LoadKey(path, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadKey(%s) = %v, want an error mentioning %q", filepath.Base(path), err, want)
		}
	}
}
