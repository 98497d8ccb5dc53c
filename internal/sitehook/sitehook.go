// Package sitehook holds the packaging's own Python module, _mathesar_site, which every
// bundle carries in its site-packages and the launcher's bootstrap runs before the app: it
// connects the admin's sso.yml, file_storage.yml and local.py in the configuration
// directory to the interfaces Mathesar reads them through, so the code tree stays read-only.
package sitehook

import _ "embed"

// Module is the module's import name; the launcher's bootstrap imports it.
const Module = "_mathesar_site"

// AdminFiles are the files the hook reads from the configuration directory.
var AdminFiles = []string{"sso.yml", "file_storage.yml", "local.py"}

//go:embed _mathesar_site.py
var source []byte

// Files are the site-packages files to add to a bundle, by path relative to site-packages.
func Files() map[string][]byte {
	return map[string][]byte{Module + ".py": source}
}
