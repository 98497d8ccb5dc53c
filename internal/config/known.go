package config

import (
	"sort"
	"strings"
)

// KeyInfo describes one setting the config file may hold.
type KeyInfo struct {
	Key         string
	Description string // one line, for `mathesar config show`
	Owner       string // "mathesar" (read by Mathesar's Django settings) or "launcher"
	Default     string // the default the owner applies when unset, for display; "" if none
	Flag        string // the launcher flag that sets it, e.g. "--port"; "" if none
	Prefix      bool   // Key is a prefix naming a family (AZURE_)
	EnvOnly     bool   // only meaningful in the environment, not in the config file
}

var known = []KeyInfo{
	{Key: "POSTGRES_DB", Owner: "mathesar", Description: "name of Mathesar's internal database (e.g. mathesar_django)"},
	{Key: "POSTGRES_USER", Owner: "mathesar", Description: "role Mathesar uses for its internal database (e.g. mathesar)"},
	{Key: "POSTGRES_PASSWORD", Owner: "mathesar", Description: "password of POSTGRES_USER; empty for peer authentication over a Unix socket"},
	{Key: "POSTGRES_HOST", Owner: "mathesar", Description: "host name, address or Unix socket directory (e.g. /var/run/postgresql) of the internal database"},
	{Key: "POSTGRES_PORT", Owner: "mathesar", Default: "5432", Description: "TCP port of the internal database"},
	{Key: "POSTGRES_SSLMODE", Owner: "mathesar", Default: "prefer", Description: "TLS to the internal database: disable, prefer or require"},
	{Key: "SECRET_KEY", Owner: "mathesar", Description: "signs sessions and encrypts saved database passwords; losing it loses those passwords"},
	{Key: "ALLOWED_HOSTS", Owner: "mathesar", Default: ".localhost,127.0.0.1,[::1]", Description: "comma-separated host names Mathesar answers to"},
	{Key: "DEBUG", Owner: "mathesar", Default: "false", Description: "Django debug mode; never enable it on a reachable server"},
	{Key: "WEB_CONCURRENCY", Owner: "mathesar", Default: "3", Description: "number of gunicorn worker processes"},
	{Key: "MEDIA_ROOT", Owner: "mathesar", Description: "directory for uploaded files"},
	{Key: "DOMAIN_NAME", Owner: "mathesar", Description: "public URL of this Mathesar (e.g. https://mathesar.example.org)"},
	{Key: "SSO_CONFIG_DICT", Owner: "mathesar", Description: "single sign-on configuration as JSON (instead of sso.yml)"},
	{Key: "OIDC_CONFIG_DICT", Owner: "mathesar", Description: "OpenID Connect provider configuration as JSON"},
	{Key: "REQUIRE_SSO_LOGIN", Owner: "mathesar", Description: "allow only single sign-on logins"},
	{Key: "FILE_STORAGE_DICT", Owner: "mathesar", Description: "file storage configuration as JSON (instead of file_storage.yml)"},
	{Key: "PER_USER_DATABASES_ENABLED", Owner: "mathesar", Description: "give each user their own database"},
	{Key: "DATA_FILES_STORAGE_BACKEND", Owner: "mathesar", Description: "where imported data files are stored (e.g. Azure with the AZURE_* settings)"},
	{Key: "AZURE_", Owner: "mathesar", Prefix: true, Description: "Azure storage settings used by DATA_FILES_STORAGE_BACKEND"},

	{Key: "MATHESAR_CONFIG", Owner: "launcher", EnvOnly: true, Description: "path of the config file to read instead of the system or user one"},
	{Key: "MATHESAR_PORT", Owner: "launcher", Flag: "--port", Description: "TCP port the web server listens on"},
	{Key: "MATHESAR_ADDR", Owner: "launcher", Flag: "--addr", Description: "address the web server listens on"},
	{Key: "MATHESAR_PYTHON", Owner: "launcher", Description: "CPython interpreter to run Mathesar with"},
	{Key: "MATHESAR_PYZ", Owner: "launcher", Description: "path of mathesar.pyz"},
	{Key: "MATHESAR_CACHE_DIR", Owner: "launcher", Description: "where mathesar.pyz is unpacked"},
	{Key: "MATHESAR_MODE", Owner: "launcher", EnvOnly: true, Description: "system or user: overrides how the launcher chooses its paths (a launcher at /usr/bin/mathesar is a system install)"},
	{Key: "DJANGO_SETTINGS_MODULE", Owner: "mathesar", Default: "config.settings.production", Description: "Django settings module Mathesar runs with"},
	{Key: "MATHESAR_DATA_DIR", Owner: "launcher", Description: "directory for Mathesar's writable state"},
}

// Known returns every setting the config file may hold, sorted by key.
func Known() []KeyInfo {
	out := append([]KeyInfo(nil), known...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Lookup returns the KeyInfo describing key (for AZURE_* keys, the family's).
func Lookup(key string) (KeyInfo, bool) {
	for _, k := range known {
		if k.Prefix && strings.HasPrefix(key, k.Key) && len(key) > len(k.Key) || !k.Prefix && k.Key == key {
			return k, true
		}
	}
	return KeyInfo{}, false
}

// IsSecret reports whether a key's whole value is secret: SECRET_KEY, POSTGRES_PASSWORD
// and any key whose name contains PASSWORD, SECRET, KEY or TOKEN.
func IsSecret(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range []string{"PASSWORD", "SECRET", "KEY", "TOKEN"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
