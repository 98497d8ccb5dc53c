// Package bundle defines the manifest of a mathesar.pyz and reads, verifies and unpacks
// a pyz without Python, so that the launcher can trust what it runs.
package bundle

// ManifestName is the zip path of the manifest inside a pyz.
const ManifestName = "manifest.json"

// SchemaVersion is the manifest format this code writes and reads. Version 2 lets several
// files with identical contents share one zip entry (a File's Path may repeat).
const SchemaVersion = 2

// CommonABI is the ABI value of files that every CPython in the range shares.
const CommonABI = "common"

// Manifest describes a pyz: what it holds, for which Pythons and platform, and the
// digest of every file, so a reader can verify and unpack it without Python.
type Manifest struct {
	Schema  int    `json:"schema"`
	App     App    `json:"app"`
	BuildID string `json:"build_id"` // hex sha256 over the sorted file list, see BuildID
	// SourceDateEpoch is the timestamp (Unix seconds) of every zip entry.
	SourceDateEpoch int64          `json:"source_date_epoch"`
	Python          PythonRange    `json:"python"`
	Platform        Platform       `json:"platform"`
	Distributions   []Distribution `json:"distributions"`
	// Incomplete lists requirements left out of the bundle on request; empty for a
	// complete bundle.
	Incomplete []string `json:"incomplete,omitempty"`
	Files      []File   `json:"files"`
}

// App names the packaged application.
type App struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Sample is true when the pyz holds the sample app that stands in for Mathesar in
	// tests and offline builds.
	Sample bool `json:"sample,omitempty"`
}

// PythonRange is the CPython versions the pyz serves.
type PythonRange struct {
	Min  string   `json:"min"`  // "3.10"
	Max  string   `json:"max"`  // "3.14"
	ABIs []string `json:"abis"` // "cp310" … "cp314"
}

// Platform is the OS and architecture the pyz was built for, with the platform tags its
// wheels were chosen from, best first.
type Platform struct {
	OS   string   `json:"os"`   // GOOS spelling: linux, darwin
	Arch string   `json:"arch"` // GOARCH spelling: amd64, arm64
	Tags []string `json:"tags"`
}

// Distribution is one installed wheel.
type Distribution struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Wheels  []Wheel  `json:"wheels"`
	ABIs    []string `json:"abis"` // the ABIs it is installed for
}

// Wheel is one wheel file a distribution was installed from.
type Wheel struct {
	File   string   `json:"file"` // base name of the .whl
	SHA256 string   `json:"sha256"`
	ABIs   []string `json:"abis"` // the ABIs this wheel served
}

// File is one file of the pyz other than __main__.py and the manifest.
type File struct {
	Path string `json:"path"` // zip path, e.g. lib/cp311/site-packages/x.so; may be shared

	Target string `json:"target"` // path under the unpacked tree, e.g. site-packages/x.so
	ABI    string `json:"abi"`    // CommonABI or an ABI such as cp311
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	Mode   uint32 `json:"mode"`   // 0o644 or 0o755
}
