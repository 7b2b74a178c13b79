package entgql

import (
	"bytes"
	"reflect"
	"testing"

	upstream "entgo.io/contrib/entgql"
	"entgo.io/ent"
	"github.com/google/uuid"
)

// Cursors are written and read exactly as entgql writes and reads them, so
// that clients holding cursors from a build that used entgql keep paging.
func TestCursorsAsEntgql(t *testing.T) {
	id := uuid.MustParse("0193a6f4-0000-7000-8000-000000000001")
	for _, v := range []ent.Value{nil, "files/a.txt", int64(5 << 30), "2026-01-02T03:04:05.123456789Z"} {
		var ours, theirs bytes.Buffer
		Cursor[uuid.UUID]{ID: id, Value: v}.MarshalGQL(&ours)
		upstream.Cursor[uuid.UUID]{ID: id, Value: v}.MarshalGQL(&theirs)
		if ours.String() != theirs.String() {
			t.Errorf("value %v: cursor %s, entgql writes %s", v, ours.String(), theirs.String())
		}
		quoted := theirs.String()
		var back Cursor[uuid.UUID]
		if err := back.UnmarshalGQL(quoted[1 : len(quoted)-1]); err != nil {
			t.Fatalf("value %v: reading entgql's cursor: %v", v, err)
		}
		var want upstream.Cursor[uuid.UUID]
		if err := want.UnmarshalGQL(quoted[1 : len(quoted)-1]); err != nil {
			t.Fatal(err)
		}
		if back.ID != want.ID || !reflect.DeepEqual(back.Value, want.Value) {
			t.Errorf("value %v: read back %+v, entgql reads %+v", v, back, want)
		}
	}
	var c Cursor[uuid.UUID]
	if err := c.UnmarshalGQL("not a cursor!"); err == nil {
		t.Error("a malformed cursor was accepted")
	}
}

func TestOrderDirectionAndErrorsAsEntgql(t *testing.T) {
	for _, in := range []any{"ASC", "DESC", "asc", "", 1} {
		var ours OrderDirection
		var theirs upstream.OrderDirection
		oerr, terr := ours.UnmarshalGQL(in), theirs.UnmarshalGQL(in)
		if (oerr == nil) != (terr == nil) || string(ours) != string(theirs) {
			t.Errorf("%#v: %q, %v; entgql %q, %v", in, ours, oerr, theirs, terr)
		}
	}
	if ours, theirs := ErrNodeNotFound("x"), upstream.ErrNodeNotFound("x"); ours.Error() != theirs.Error() || !reflect.DeepEqual(ours.Extensions, theirs.Extensions) {
		t.Errorf("ErrNodeNotFound: %v %v, entgql %v %v", ours, ours.Extensions, theirs, theirs.Extensions)
	}
}
