package storage

import (
	"strings"
	"unicode/utf8"
)

// ContentDisposition returns an RFC 6266 attachment header value for name:
// an ASCII filename= fallback for old clients and an RFC 8187 filename*= with
// the exact UTF-8 name for everyone else.
func ContentDisposition(name string) string {
	var b strings.Builder
	b.Grow(len("attachment; filename=\"\"; filename*=UTF-8''") + 4*len(name))
	b.WriteString(`attachment; filename="`)
	for _, r := range name {
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f, r > 0x7e, r == '"', r == '\\':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"; filename*=UTF-8''`)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// isAttrChar reports whether c may appear unencoded in an RFC 8187 value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
