package wheel

import (
	"bytes"
	"crypto/sha256"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// InstallerName is written to dist-info/INSTALLER of every installed wheel.
const InstallerName = "mathesar-packaging"

// Shebang replaces a script's "#!python" first line.
const Shebang = "#!/usr/bin/env python3"

// InstalledFile is one file of an installed wheel.
type InstalledFile struct {
	Path   string      // slash path under the install root: "site-packages/...", "bin/...", "data/...", "include/..."
	Scheme string      // purelib, platlib, scripts, data or headers; dist-info files take the root's scheme
	Mode   fs.FileMode // 0o755 if the wheel entry had any exec bit (and for scripts), else 0o644
	Data   []byte
	SHA256 [32]byte
}

// Install maps the wheel's files onto the scheme of a virtual environment as pip does:
// root files go to purelib or platlib per Root-Is-Purelib, "<name>-<ver>.data/<scheme>/"
// to that scheme's directory. It adds dist-info/INSTALLER, rewrites dist-info/RECORD
// for the installed paths (relative to site-packages, RECORD last with no hash) and
// drops RECORD.jws and RECORD.p7s. The result is sorted by Path.
func (w *Wheel) Install() ([]InstalledFile, error) {
	out := make([]InstalledFile, 0, len(w.plan)+2)
	for _, p := range w.plan {
		data, err := w.readVerified(p.entry)
		if err != nil {
			return nil, err
		}
		mode := fs.FileMode(0o644)
		if w.files[p.entry].Mode()&0o111 != 0 {
			mode = 0o755
		}
		if p.scheme == schemeScripts {
			data = rewriteShebang(data)
			mode = 0o755
		}
		out = append(out, InstalledFile{Path: p.path, Scheme: p.scheme, Mode: mode, Data: data, SHA256: sha256.Sum256(data)})
	}
	rootScheme := schemePlatlib
	if w.RootIsPurelib {
		rootScheme = schemePurelib
	}
	installer := []byte(InstallerName + "\n")
	out = append(out, InstalledFile{Path: w.installedPath("INSTALLER"), Scheme: rootScheme, Mode: 0o644, Data: installer, SHA256: sha256.Sum256(installer)})
	sortInstalled(out)

	rows := make([]RecordEntry, 0, len(out)+1)
	for _, f := range out {
		rows = append(rows, RecordEntry{Path: relToSitePackages(f.Path), HashAlgo: "sha256", Digest: recordDigest(f.SHA256), Size: int64(len(f.Data)), HasSize: true})
	}
	recPath := w.installedPath("RECORD")
	rows = append(rows, RecordEntry{Path: relToSitePackages(recPath)})
	rec, err := encodeRecord(rows)
	if err != nil {
		return nil, w.fail(w.DistInfo+"/RECORD", "", err, "cannot write installed RECORD")
	}
	out = append(out, InstalledFile{Path: recPath, Scheme: rootScheme, Mode: 0o644, Data: rec, SHA256: sha256.Sum256(rec)})
	sortInstalled(out)
	return out, nil
}

func sortInstalled(files []InstalledFile) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// relToSitePackages spells an install-root path as RECORD does, relative to
// site-packages ("bin/x" is "../bin/x").
func relToSitePackages(p string) string {
	if rest, ok := strings.CutPrefix(p, schemeDirs[schemePurelib]+"/"); ok {
		return rest
	}
	return path.Join("..", p)
}

// rewriteShebang replaces a first line starting with "#!python" (which covers
// "#!pythonw") with Shebang, keeping the line ending; like pip it drops any arguments.
func rewriteShebang(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("#!python")) {
		return data
	}
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		return []byte(Shebang + "\n")
	}
	eol := "\n"
	if end > 0 && data[end-1] == '\r' {
		eol = "\r\n"
	}
	return append([]byte(Shebang+eol), data[end+1:]...)
}
