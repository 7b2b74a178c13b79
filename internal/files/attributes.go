package files

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A file's own attributes besides its bytes: the app's metadata (string
// pairs it can filter on) and the folder it is filed under. Both are only
// rows' data: moving a file or changing its metadata touches no object.

// Bounds on a file's metadata: enough for an app's own ids and labels,
// small enough that a listing of 100 files stays well under a megabyte.
const (
	MaxMetadataKeys       = 32
	MaxMetadataKeyBytes   = 64
	MaxMetadataValueBytes = 1 << 10
	MaxMetadataBytes      = 8 << 10 // keys and values together
)

// Bounds on a folder path: a/b/c, as deep and as long per segment as
// common file systems allow.
const (
	MaxFolderSegments     = 16
	MaxFolderSegmentBytes = 255
)

// MetadataMatch is one pair a listing's file must hold exactly.
type MetadataMatch struct {
	Key   string
	Value string
}

// checkMetadataKey reports what is wrong with a metadata key, or "".
func checkMetadataKey(k string) string {
	switch {
	case k == "":
		return "must not be empty"
	case len(k) > MaxMetadataKeyBytes:
		return fmt.Sprintf("is %d bytes long, at most %d are allowed", len(k), MaxMetadataKeyBytes)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Sprintf("%q may hold only letters A-Z and a-z, digits, _, . and -", k)
		}
	}
	return ""
}

// checkMetadataValue reports what is wrong with a metadata value, or "".
// Any text goes, but not NUL, which PostgreSQL's jsonb cannot hold.
func checkMetadataValue(v string) string {
	if len(v) > MaxMetadataValueBytes {
		return fmt.Sprintf("is %d bytes long, at most %d are allowed", len(v), MaxMetadataValueBytes)
	}
	return checkText(v)
}

// checkMetadata adds to ps what is wrong with m, given at field; each
// problem names its key (field.key).
func (ps *problems) checkMetadata(field string, m map[string]string) {
	if len(m) > MaxMetadataKeys {
		ps.add(field, "has %d keys, at most %d are allowed", len(m), MaxMetadataKeys)
		return
	}
	total := 0
	for _, k := range slices.Sorted(maps.Keys(m)) { // problems in a stable order
		v := m[k]
		total += len(k) + len(v)
		name := k
		if k == "" || !utf8.ValidString(k) || len(k) > MaxMetadataKeyBytes {
			name = fmt.Sprintf("%.64q", k) // never echo a long or broken key whole
		}
		if msg := checkMetadataKey(k); msg != "" {
			ps.add(field+"."+name, "key %s", msg)
			continue
		}
		if msg := checkMetadataValue(v); msg != "" {
			ps.add(field+"."+name, "value %s", msg)
		}
	}
	if total > MaxMetadataBytes {
		ps.add(field, "holds %d bytes of keys and values, at most %d are allowed", total, MaxMetadataBytes)
	}
}

// checkMetadataMatches adds to ps what is wrong with a listing's metadata
// filter, given at field.
func (ps *problems) checkMetadataMatches(field string, ms []*MetadataMatch) {
	for i, m := range ms {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m == nil {
			ps.add(f, "must not be null")
			continue
		}
		if msg := checkMetadataKey(m.Key); msg != "" {
			ps.add(f+".key", "%s", msg)
		}
		if msg := checkMetadataValue(m.Value); msg != "" {
			ps.add(f+".value", "%s", msg)
		}
	}
}

// normalizeFolder returns the folder path p in NFC, which is how it is
// stored and compared, or why it cannot be a folder. "" is the root.
func normalizeFolder(p string) (string, string) {
	if p == "" {
		return "", ""
	}
	if !utf8.ValidString(p) {
		return "", "is not valid UTF-8"
	}
	if i := strings.IndexFunc(p, unicode.IsControl); i >= 0 {
		return "", fmt.Sprintf("must not contain control characters (%U at byte %d)", []rune(p[i:])[0], i)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return unicode.Is(unicode.Cf, r) }); i >= 0 {
		// As in file names: an invisible character makes one path show as another.
		return "", fmt.Sprintf("must not contain invisible format characters (%U at byte %d)", []rune(p[i:])[0], i)
	}
	p = norm.NFC.String(p)
	segs := strings.Split(p, "/")
	if len(segs) > MaxFolderSegments {
		return "", fmt.Sprintf("has %d segments, at most %d are allowed", len(segs), MaxFolderSegments)
	}
	for i, s := range segs {
		switch {
		case s == "":
			return "", fmt.Sprintf("has an empty segment (segment %d): no leading, trailing or doubled /", i+1)
		case s == "." || s == "..":
			return "", fmt.Sprintf("must not have a %q segment", s)
		case len(s) > MaxFolderSegmentBytes:
			return "", fmt.Sprintf("segment %d is %d bytes long, at most %d are allowed", i+1, len(s), MaxFolderSegmentBytes)
		}
	}
	return p, ""
}

// folderAncestors returns p and every folder above it, nearest the root
// first: "a/b" gives "a", "a/b". The root itself is not listed.
func folderAncestors(p string) []string {
	if p == "" {
		return nil
	}
	var out []string
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return append(out, p)
}
