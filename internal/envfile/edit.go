package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"
)

// NewFileMode is the mode Set gives a file it creates: the file holds secrets
// (SECRET_KEY, POSTGRES_PASSWORD) and is read by root (systemd) and the service's group.
const NewFileMode fs.FileMode = 0o640

// Set makes key equal value in the file at path, editing it in place: comments, blank
// lines, the order and the bytes of every other line stay as they are. The last
// assignment of key is rewritten where it stands; earlier assignments of key are
// deleted, because they are dead (the last one wins) and an admin editing them later
// would see no effect. When key is absent it is appended. A missing file is created
// with mode 0640 (its directory must exist). An existing file keeps its mode and owner;
// the new content is written to a temporary file in the same directory and renamed over
// it, so readers see the old or the new file, never half of one. Set refuses files
// Parse rejects, and checks the result reads back as intended before renaming.
func Set(path, key, value string) error {
	if !validName(key) {
		return fmt.Errorf("set %s in %s: invalid variable name; use only letters, digits and _, not starting with a digit", key, path)
	}
	if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("set %s in %s: the value is not valid UTF-8 text (or holds a NUL byte), which systemd refuses; pass plain UTF-8 text", key, path)
	}
	return edit(path, key, func(data []byte, own []assignment) []byte {
		if len(own) == 1 && own[0].value == value {
			return nil // already so; keep the admin's own quoting
		}
		line := []byte(key + "=" + Quote(value))
		if len(own) == 0 {
			out := append([]byte{}, data...)
			if len(out) > 0 && !isNewline(out[len(out)-1]) {
				out = append(out, newlineOf(data)...)
			}
			out = append(out, line...)
			return append(out, newlineOf(data)...)
		}
		lastA := own[len(own)-1]
		term := data[lastA.termStart:lastA.end]
		if len(term) == 0 { // last line without a newline: keep it that way
			term = nil
		}
		return splice(data, own, func(a assignment) []byte {
			if a.start != lastA.start {
				return nil
			}
			return append(line, term...)
		})
	}, func(got map[string]string) error {
		if v, ok := got[key]; !ok || v != value {
			return fmt.Errorf("set %s in %s: after the edit the file would read %s=%q, not the value given; the file's syntax is unusual near %s, fix it by hand", key, path, key, v, key)
		}
		return nil
	})
}

// Unset deletes every assignment of key from the file at path, keeping everything else.
// A missing file, or one without key, is left alone.
func Unset(path, key string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return edit(path, key, func(data []byte, own []assignment) []byte {
		if len(own) == 0 {
			return nil
		}
		return splice(data, own, func(assignment) []byte { return nil })
	}, func(got map[string]string) error {
		if _, ok := got[key]; ok {
			return fmt.Errorf("unset %s in %s: the key would still be set after the edit; the file's syntax is unusual near %s, fix it by hand", key, path, key)
		}
		return nil
	})
}

// splice replaces the span of each assignment in own by what repl returns.
func splice(data []byte, own []assignment, repl func(assignment) []byte) []byte {
	var out []byte
	prev := 0
	for _, a := range own {
		out = append(out, data[prev:a.start]...)
		r := repl(a)
		if r == nil {
			// Drop the whole line: also the indentation before the key.
			out = bytes.TrimRight(out, " \t")
		}
		out = append(out, r...)
		prev = a.end
	}
	return append(out, data[prev:]...)
}

func newlineOf(data []byte) []byte {
	if bytes.Contains(data, []byte("\r\n")) {
		return []byte("\r\n")
	}
	return []byte("\n")
}

// edit reads path (following a symlink so the link is kept), lets change rewrite it,
// checks the result with verify and the other entries for equality, and replaces the
// file atomically. change returning nil means nothing to do.
func edit(path, key string, change func(data []byte, own []assignment) []byte, verify func(map[string]string) error) error {
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("resolve %s: %w", path, err)
	}
	data, err := os.ReadFile(target)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", target, err)
	}
	sc, err := scan(data, target)
	if err != nil {
		return fmt.Errorf("edit %s: %w", target, err)
	}
	if sc.unterminated != nil {
		return fmt.Errorf("edit %s: line %d opens a quote that is never closed; close it by hand first", target, sc.unterminated.line)
	}
	before, _, err := parseBytes(data, target)
	if err != nil {
		return fmt.Errorf("edit %s: %w", target, err)
	}
	var own []assignment
	for _, a := range sc.assigns {
		if a.key == key {
			own = append(own, a)
		}
	}
	out := change(data, own)
	if out == nil || (exists && bytes.Equal(out, data)) {
		return nil
	}
	after, _, err := parseBytes(out, target)
	if err != nil {
		return fmt.Errorf("edit %s: the edited file would not parse (%v); fix the file by hand", target, err)
	}
	got := map[string]string{}
	for _, e := range after {
		got[e.Key] = e.Value
	}
	if err := verify(got); err != nil {
		return err
	}
	others := map[string]string{}
	for _, e := range before {
		if e.Key != key {
			others[e.Key] = e.Value
		}
	}
	for k, v := range got {
		if k == key {
			continue
		}
		if w, ok := others[k]; !ok || w != v {
			return fmt.Errorf("edit %s: changing %s would also change %s; the file's syntax is unusual near %s, fix it by hand", target, key, k, key)
		}
		delete(others, k)
	}
	for k := range others {
		return fmt.Errorf("edit %s: changing %s would also remove %s; the file's syntax is unusual near %s, fix it by hand", target, key, k, key)
	}
	return writeAtomic(target, out, exists)
}

// writeAtomic writes data to a temporary file next to path and renames it over path,
// carrying over the mode and owner of the existing file (or NewFileMode for a new one).
func writeAtomic(path string, data []byte, exists bool) (err error) {
	mode := NewFileMode
	uid, gid := -1, -1
	if exists {
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create %s: directory %s does not exist; create it first (mkdir -p %s)", path, dir, dir)
		}
		return fmt.Errorf("create temporary file in %s: %w (run as a user who may write there, e.g. with sudo)", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if uid >= 0 {
		if fi, serr := tmp.Stat(); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != uid || int(st.Gid) != gid) {
				if err = tmp.Chown(uid, gid); err != nil {
					return fmt.Errorf("keep owner %d:%d of %s: %w; run as root (sudo) to edit this file", uid, gid, path, err)
				}
			}
		}
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
