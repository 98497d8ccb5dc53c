package envfile

import "strings"

// Quote returns value written so that systemd (and Parse) read it back unchanged: as is
// when it holds only characters no rule touches, otherwise in double quotes with " \ `
// and $ escaped. The set of bare characters is deliberately narrower than systemd's
// own writer (write_env_var) so the file also reads the same when sourced by a shell.
// Quote does not check UTF-8; Set refuses values systemd would reject.
func Quote(value string) string {
	if value != "" && isBare(value) {
		return value
	}
	var b strings.Builder
	b.Grow(len(value) + 2)
	b.WriteByte('"')
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '"' || c == '\\' || c == '`' || c == '$' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func isBare(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_-.,:/@%+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}
