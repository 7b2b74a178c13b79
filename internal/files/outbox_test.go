package files_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/internal/files"
)

// A save writes one file.saved per file it saves, a delete one file.deleted,
// in the same transactions: a save refused, or repeated, writes none, and
// the events of a file come in the order of its changes.
func TestEventsFollowCommits(t *testing.T) {
	f := newFixture(t, files.Limits{})
	ctx := context.Background()
	events := func() []*ent.Event {
		t.Helper()
		evs, err := f.db.Ent.Event.Query().Order(ent.Asc(event.FieldID)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	a, b := f.issue(t, "u", "a.txt", 3), f.issue(t, "u", "b.txt", 3)
	f.put(t, a, []byte("abc"))
	// b is not uploaded: the save is refused, and writes nothing.
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", a), save("b.txt", b)}); err == nil {
		t.Fatal("a save of a missing upload succeeded")
	}
	if evs := events(); len(evs) != 0 {
		t.Fatalf("a refused save wrote %d events", len(evs))
	}
	f.put(t, b, []byte("def"))
	saved, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", a), save("b.txt", b)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", a)}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(as("u"), saved[0].ID); err != nil {
		t.Fatal(err)
	}
	// A refused update or batch delete writes nothing.
	if _, err := f.svc.UpdateFile(as("u"), saved[1].ID, files.UpdateFileInput{Folder: ptr("a/../b")}); err == nil {
		t.Fatal("a move to a/../b succeeded")
	}
	if _, err := f.svc.DeleteFiles(as("u"), []uuid.UUID{saved[1].ID, saved[0].ID}); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("a batch with a deleted id: %v", err)
	}
	moved, err := f.svc.UpdateFile(as("u"), saved[1].ID, files.UpdateFileInput{OriginalName: ptr("c.txt"), Folder: ptr("x/y"), Metadata: schema.Metadata{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteFiles(as("u"), []uuid.UUID{saved[1].ID}); err != nil {
		t.Fatal(err)
	}
	evs := events()
	want := []struct {
		typ  string
		file *ent.File
	}{{files.EventSaved, saved[0]}, {files.EventSaved, saved[1]}, {files.EventDeleted, saved[0]}, {files.EventUpdated, moved}, {files.EventDeleted, moved}}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Type != w.typ || ev.FileID != w.file.ID || ev.Owner != "u" {
			t.Errorf("event %d: %s of %s by %s, want %s of %s", i, ev.Type, ev.FileID, ev.Owner, w.typ, w.file.ID)
		}
		var data files.EventData
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			t.Fatal(err)
		}
		if data.ID != w.file.ID || data.FileName != w.file.FileName || data.OriginalName != w.file.OriginalName || data.Size != 3 || data.Owner != "u" ||
			data.Folder != w.file.Folder || fmt.Sprint(data.Metadata) != fmt.Sprint(map[string]string(w.file.Metadata)) {
			t.Errorf("event %d carries %+v", i, data)
		}
	}
}

func ptr[T any](v T) *T { return &v }
