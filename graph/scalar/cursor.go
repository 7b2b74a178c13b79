package scalar

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/files"
)

// A cursor is base64 of msgpack, decoded by entgql with vmihailenco/msgpack,
// which sizes a map or a slice from the length its header declares and
// recurses once per nesting level: 11 forged bytes ("gaF23/////8", a map of
// 2^32 entries) cost 84 MB before the decode fails, and 700,000 nested
// arrays 470 MB of stack. So a cursor is first checked to be of the one
// shape this server issues, which msgpack then decodes in a bounded number
// of small allocations:
//
//	fixmap of 1 or 2 entries {
//	  "i": bin8 of 16 bytes (the row's UUID)
//	  "v": the order's value, when not by id: a string (a name), an
//	       integer (a size) or a timestamp (ext -1, 4, 8 or 12 bytes)
//	}

// MaxCursorBytes bounds a cursor's msgpack: map header, both keys, the UUID
// and the longest value, an original name, with its str16 header.
const MaxCursorBytes = 1 + 2 + 2 + 16 + 2 + 3 + files.MaxNameBytes

// MaxCursorLength bounds a cursor's text, checked before any decoding.
var MaxCursorLength = base64.RawStdEncoding.EncodedLen(MaxCursorBytes)

// MarshalCursor writes an opaque Relay cursor.
func MarshalCursor(c ent.Cursor) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { c.MarshalGQL(w) })
}

// UnmarshalCursor reads a cursor that a previous page returned: its length
// and shape are checked before entgql decodes it.
func UnmarshalCursor(v any) (ent.Cursor, error) {
	var c ent.Cursor
	s, ok := v.(string)
	if !ok {
		return c, &InputError{Scalar: "Cursor", Err: fmt.Errorf("%T is not a string", v)}
	}
	if len(s) > MaxCursorLength {
		return c, &InputError{Scalar: "Cursor", Err: fmt.Errorf("not a cursor this server issued: %d characters long, at most %d are", len(s), MaxCursorLength)}
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return c, &InputError{Scalar: "Cursor", Err: fmt.Errorf("not a cursor this server issued: not base64")}
	}
	if why := checkCursor(b); why != "" {
		return c, &InputError{Scalar: "Cursor", Err: fmt.Errorf("not a cursor this server issued: %s", why)}
	}
	if err := c.UnmarshalGQL(s); err != nil {
		return c, &InputError{Scalar: "Cursor", Err: fmt.Errorf("not a cursor this server issued")}
	}
	return c, nil
}

// checkCursor reports why b is not the msgpack of a cursor of the shape
// above, or "". It allocates nothing.
func checkCursor(b []byte) string {
	if len(b) == 0 || (b[0] != 0x81 && b[0] != 0x82) {
		return "not a map of its id and value"
	}
	n := int(b[0] & 0x0f)
	b = b[1:]
	var seen [2]bool
	for range n {
		if len(b) < 2 || b[0] != 0xa1 || (b[1] != 'i' && b[1] != 'v') {
			return "a key other than i and v"
		}
		key := b[1]
		b = b[2:]
		var size int
		if key == 'i' {
			if seen[0] {
				return "i given twice"
			}
			seen[0] = true
			if len(b) < 2 || b[0] != 0xc4 || b[1] != 16 {
				return "an id that is not 16 bytes"
			}
			size = 2 + 16
		} else {
			if seen[1] {
				return "v given twice"
			}
			seen[1] = true
			if size = valueSize(b); size < 0 {
				return "a value that is not a string, an integer or a time"
			}
		}
		if size > len(b) {
			return "cut short"
		}
		b = b[size:]
	}
	switch {
	case !seen[0]:
		return "no id"
	case len(b) > 0:
		return "bytes after its end"
	}
	return ""
}

// valueSize is the length of the msgpack value at the start of b, header
// included, if it is one a cursor can hold (a string, an integer or a
// timestamp); -1 otherwise. The length may exceed len(b): the caller checks.
func valueSize(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	h := b[0]
	switch {
	case h <= 0x7f || h >= 0xe0: // positive and negative fixint
		return 1
	case h >= 0xa0 && h <= 0xbf: // fixstr
		return 1 + int(h&0x1f)
	}
	switch h {
	case 0xcc, 0xd0: // uint8, int8
		return 2
	case 0xcd, 0xd1: // uint16, int16
		return 3
	case 0xce, 0xd2: // uint32, int32
		return 5
	case 0xcf, 0xd3: // uint64, int64
		return 9
	case 0xd9: // str8
		if len(b) < 2 {
			return -1
		}
		return 2 + int(b[1])
	case 0xda: // str16
		if len(b) < 3 {
			return -1
		}
		return 3 + (int(b[1])<<8 | int(b[2]))
	case 0xd6, 0xd7: // fixext4, fixext8: a timestamp is type -1
		if len(b) < 2 || b[1] != 0xff {
			return -1
		}
		if h == 0xd6 {
			return 2 + 4
		}
		return 2 + 8
	case 0xc7: // ext8: a timestamp of 12 bytes
		if len(b) < 3 || b[1] != 12 || b[2] != 0xff {
			return -1
		}
		return 3 + 12
	}
	return -1
}
