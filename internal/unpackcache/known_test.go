package unpackcache

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestKnownBundles(t *testing.T) {
	p, b := writePyz(t, "1.0")
	c := &Cache{Root: t.TempDir()}
	if _, ok := c.LookupKnown(p); ok {
		t.Fatal("an unseen pyz is known")
	}
	if e, err := c.AcquireUnpacked(context.Background(), b.Manifest.BuildID, "cp311"); err != nil || e != nil {
		t.Fatalf("AcquireUnpacked before any unpack = %v, %v; want nil, nil", e, err)
	}
	entry, err := c.Acquire(context.Background(), b, "cp311", EnsureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	entry.Release()
	c.Remember(p, &b.Manifest)
	k, ok := c.LookupKnown(p)
	if !ok || k.BuildID != b.Manifest.BuildID || k.MinPython != "3.11" || k.MaxPython != "3.12" {
		t.Fatalf("LookupKnown = %+v, %t", k, ok)
	}
	warm, err := c.AcquireUnpacked(context.Background(), k.BuildID, "cp311")
	if err != nil || warm == nil || warm.Dir != entry.Dir {
		t.Fatalf("AcquireUnpacked = %+v, %v; want the unpacked tree %s", warm, err, entry.Dir)
	}
	warm.Release()
	// A replaced pyz (an upgrade or reinstall changes its mtime or size) is not known.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.LookupKnown(p); ok {
		t.Fatal("a pyz with a new mtime is still known")
	}
	c.Remember(p, &b.Manifest)
	// The same bytes and times in a new file, as a package manager writes it, is not known.
	data, _ := os.ReadFile(p)
	info, _ := os.Stat(p)
	// Written beside and renamed over, as dpkg does, so the inode cannot be reused.
	os.WriteFile(p+".new", data, 0o644)
	os.Chtimes(p+".new", info.ModTime(), info.ModTime())
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.LookupKnown(p); ok {
		t.Fatal("a rewritten pyz (new inode) is still known")
	}
	// A corrupt record file only makes every pyz unknown.
	if err := os.WriteFile(c.Root+"/"+knownFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.LookupKnown(p); ok {
		t.Fatal("a corrupt record file vouched for a pyz")
	}
}
