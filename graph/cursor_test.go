package graph

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/graph/scalar"
	"github.com/filegraph/filegraph/internal/files"
)

// The cursor of every order the schema offers, at a row of the longest
// values allowed, is read back: an order added to ent/schema whose values
// the cursor check does not know, or does not leave room for, fails here.
func TestCursorsOfEveryOrder(t *testing.T) {
	enum := NewSchema(nil, nil).Schema().Types["FileOrderField"]
	if enum == nil || len(enum.EnumValues) == 0 {
		t.Fatal("the schema has no FileOrderField enum")
	}
	row := &ent.File{
		ID:           uuid.Must(uuid.NewV7()),
		FileName:     files.NewKey(strings.Repeat("x", 200) + ".abcdefghij"),
		OriginalName: strings.Repeat("é", files.MaxNameBytes/2) + strings.Repeat("a", files.MaxNameBytes%2),
		Size:         math.MaxInt64,
		CreatedAt:    time.Now(),
	}
	for _, v := range enum.EnumValues {
		var field ent.FileOrderField
		if err := field.UnmarshalGQL(v.Name); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		scalar.MarshalCursor(row.ToEdge(&ent.FileOrder{Field: &field}).Cursor).MarshalGQL(&b)
		c, err := scalar.UnmarshalCursor(strings.Trim(b.String(), `"`))
		if err != nil || c.ID != row.ID || c.Value == nil {
			t.Errorf("%s: the cursor %s reads as %+v, %v", v.Name, b.String(), c, err)
		}
	}
}
