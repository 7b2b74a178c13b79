package scalar

import (
	"bytes"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/files"
)

// issued is a cursor as the server writes it, without its quotes.
func issued(t testing.TB, c ent.Cursor) string {
	t.Helper()
	var b bytes.Buffer
	MarshalCursor(c).MarshalGQL(&b)
	return strings.Trim(b.String(), `"`)
}

// b64 writes raw msgpack bytes as a cursor.
func b64(b ...byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// longestName is an original name of the most bytes allowed, most of them
// two-byte runes.
var longestName = strings.Repeat("é", files.MaxNameBytes/2) + strings.Repeat("a", files.MaxNameBytes%2)

// validCursors are cursors of every order the files connection offers (and
// the id-only cursors of the default order and of pending uploads).
func validCursors() []ent.Cursor {
	id := uuid.MustParse("019aa0e2-7d4f-7c3a-9a51-3c3d2f0b9e11")
	return []ent.Cursor{
		{ID: id},
		{ID: id, Value: "files/0123456789abcdef0123456789abcdef.jpeg"},
		{ID: id, Value: longestName},
		{ID: id, Value: ""},
		{ID: id, Value: int64(0)},
		{ID: id, Value: int64(-1)},
		{ID: id, Value: int64(1) << 62},
		{ID: id, Value: time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)},
		{ID: id, Value: time.Date(2026, 12, 4, 14, 0, 0, 123456789, time.UTC)},
		{ID: id, Value: time.Unix(1<<40, 5).UTC()},
		{ID: id, Value: time.Unix(-1, 0).UTC()},
	}
}

// Every cursor the server issues reads back as itself, the longest included.
func TestIssuedCursorsRoundTrip(t *testing.T) {
	for _, want := range validCursors() {
		s := issued(t, want)
		if len(s) > MaxCursorLength {
			t.Errorf("%v: issued %d characters, over MaxCursorLength %d", want.Value, len(s), MaxCursorLength)
		}
		got, err := UnmarshalCursor(s)
		if err != nil {
			t.Errorf("%v: %v", want.Value, err)
			continue
		}
		same := got.ID == want.ID
		switch w := want.Value.(type) {
		case nil, string:
			// entgql's omitempty drops "" and 0: they read back as nil.
			same = same && (got.Value == want.Value || got.Value == nil && (w == "" || w == nil))
		case time.Time:
			g, ok := got.Value.(time.Time)
			same = same && ok && g.Equal(w)
		case int64:
			// msgpack reads an integer into the smallest type it fits.
			same = same && (got.Value == nil && w == 0 || got.Value != nil && toInt64(got.Value) == w)
		}
		if !same {
			t.Errorf("issued %#v, read back %#v", want, got)
		}
	}
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	return -42
}

// nested is n arrays of one element each, around nil.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x91}, n), 0xc0)
}

// forgedCursors are cursors of other shapes, with what the refusal says.
var forgedCursors = []struct{ name, cursor, says string }{
	{"map declaring 2^32 entries (issue 23)", "gaF23/////8", "a value that is not"},
	{"map32 at the top", b64(0xdf, 0xff, 0xff, 0xff, 0xff), "not a map of its id and value"},
	{"array32 as the value", b64(0x81, 0xa1, 'v', 0xdd, 0xff, 0xff, 0xff, 0xff), "a value that is not"},
	{"map16 as the value", b64(0x81, 0xa1, 'v', 0xde, 0xff, 0xff), "a value that is not"},
	{"str32 declaring 4 GiB", b64(0x82, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa1, 'v', 0xdb, 0xff, 0xff, 0xff, 0xff), "a value that is not"},
	{"str16 longer than the cursor", b64(0x82, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa1, 'v', 0xda, 0xff, 0xff, 'a'), "cut short"},
	{"bin32 declaring 4 GiB as the id", b64(0x81, 0xa1, 'i', 0xc6, 0xff, 0xff, 0xff, 0xff), "an id that is not 16 bytes"},
	{"ext32 declaring 4 GiB", b64(0x81, 0xa1, 'v', 0xc9, 0xff, 0xff, 0xff, 0xff, 0xff), "a value that is not"},
	{"nesting 200 arrays", b64(append([]byte{0x81, 0xa1, 'v'}, nested(200)...)...), "a value that is not"},
	{"nesting 700,000 arrays (issue 23)", b64(append([]byte{0x81, 0xa1, 'v'}, nested(700_000)...)...), "characters long, at most"},
	{"one character too long", strings.Repeat("A", MaxCursorLength+1), "characters long, at most"},
	{"not base64", "!!!!", "not base64"},
	{"empty", "", "not a map"},
	{"no id", b64(0x81, 0xa1, 'v', 0x01), "no id"},
	{"id twice", b64(0x82, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), "i given twice"},
	{"other key", b64(0x81, 0xa1, 'x', 0x01), "a key other than"},
	{"bytes after the map", b64(0x81, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x00), "bytes after its end"},
	{"a float", b64(0x82, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa1, 'v', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0), "a value that is not"},
	{"an ext other than time", b64(0x82, 0xa1, 'i', 0xc4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xa1, 'v', 0xd6, 0x01, 0, 0, 0, 0), "a value that is not"},
}

// Forged cursors are refused as input errors saying what is wrong, and
// none costs more than a few KB to refuse.
func TestForgedCursors(t *testing.T) {
	for _, tc := range forgedCursors {
		var err error
		alloc := allocated(func() { _, err = UnmarshalCursor(tc.cursor) })
		var in *InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an InputError saying %q", tc.name, err, tc.says)
		}
		if limit := allocLimit(tc.cursor); alloc > limit {
			t.Errorf("%s: refusing it allocated %d bytes, over %d", tc.name, alloc, limit)
		}
	}
	if _, err := UnmarshalCursor(42); err == nil {
		t.Error("a number was read as a cursor")
	}
}

// allocated is what f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocLimit is what decoding a cursor may allocate: msgpack's buffered
// reader (4 KiB) and decoder, and a few copies of the text.
func allocLimit(s string) uint64 { return 16<<10 + 4*uint64(len(s)) }

// FuzzCursor reads arbitrary text as a cursor: it never panics, never
// allocates more than allocLimit, and what it accepts is a cursor the
// server would issue again as it was read.
func FuzzCursor(f *testing.F) {
	for _, c := range validCursors() {
		f.Add(issued(f, c))
	}
	for _, tc := range forgedCursors {
		f.Add(tc.cursor)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var (
			c   ent.Cursor
			err error
		)
		if alloc := allocated(func() { c, err = UnmarshalCursor(s) }); alloc > allocLimit(s) {
			t.Fatalf("decoding %d characters allocated %d bytes, over %d", len(s), alloc, allocLimit(s))
		}
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) {
				t.Fatalf("refused with %T %v, not an InputError", err, err)
			}
			return
		}
		again, err := UnmarshalCursor(issued(t, c))
		if err != nil {
			t.Fatalf("%q read as %#v, which written again is refused: %v", s, c, err)
		}
		if again.ID != c.ID {
			t.Fatalf("%q read as id %v, written and read again as %v", s, c.ID, again.ID)
		}
	})
}
