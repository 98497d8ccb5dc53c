package config

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Masked is what Mask shows instead of a secret. It never depends on the secret, not
// even its length or last characters, so output can be pasted into bug reports.
const Masked = "********"

var (
	// scheme://user:password@host
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@\s]*)(@)`)
	// key=value pairs: Azure connection strings (AccountKey=...;) and libpq strings (password=...).
	pairSecret = regexp.MustCompile(`(?i)\b((?:AccountKey|SharedAccessKey|SharedAccessSignature|password|pwd)\s*=\s*)([^;\s]*)`)
)

// Mask returns s.Value fit to print: Masked for a secret setting; otherwise the value
// with passwords inside it replaced, namely JSON fields whose name contains password,
// secret, key or token (SSO_CONFIG_DICT, FILE_STORAGE_DICT, ...), URL passwords
// (postgres://user:PASSWORD@host) and password/AccountKey pairs of connection strings.
func Mask(s Setting) string {
	if s.Value == "" {
		return ""
	}
	if s.Secret {
		return Masked
	}
	v := maskJSON(s.Value)
	v = urlPassword.ReplaceAllString(v, "${1}"+Masked+"${3}")
	return pairSecret.ReplaceAllString(v, "${1}"+Masked)
}

func maskJSON(v string) string {
	t := strings.TrimSpace(v)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		return v
	}
	var doc any
	if err := json.Unmarshal([]byte(t), &doc); err != nil {
		return v
	}
	if !maskTree(doc) {
		return v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return Masked
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maskTree replaces secret fields in place and reports whether it replaced any.
func maskTree(n any) bool {
	changed := false
	switch x := n.(type) {
	case map[string]any:
		for k, v := range x {
			if IsSecret(k) {
				if _, nested := v.(map[string]any); !nested {
					x[k] = Masked
					changed = true
					continue
				}
			}
			if maskTree(v) {
				changed = true
			}
		}
	case []any:
		for i := range x {
			if maskTree(x[i]) {
				changed = true
			}
		}
	}
	return changed
}
