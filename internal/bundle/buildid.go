package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// ComputeBuildID returns the hex sha256 that identifies a build: the app, the Python range,
// the platform and every file's zip path, unpack target, ABI, mode and digest. Files are
// hashed in the order of the manifest, which writers keep sorted by path. Two pyz files with
// the same build id unpack to the same trees, so the unpack cache is keyed by it.
func ComputeBuildID(m *Manifest) string {
	h := sha256.New()
	fmt.Fprintf(h, "schema %d\napp %s %s %t\n", m.Schema, m.App.Name, m.App.Version, m.App.Sample)
	fmt.Fprintf(h, "python %s %s %s\n", m.Python.Min, m.Python.Max, strings.Join(m.Python.ABIs, ","))
	fmt.Fprintf(h, "platform %s %s\n", m.Platform.OS, m.Platform.Arch)
	fmt.Fprintf(h, "incomplete %s\n", strings.Join(m.Incomplete, ","))
	for _, f := range m.Files {
		writeFileLine(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeFileLine(w io.Writer, f File) {
	fmt.Fprintf(w, "file %q %q %s %o %d %s\n", f.Path, f.Target, f.ABI, f.Mode, f.Size, f.SHA256)
}
