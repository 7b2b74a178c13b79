package files_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/internal/database"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/testenv"
)

// heldDeletes is PostgreSQL's Deletes whose first MarkMany waits until
// release is closed; it records each batch's size.
type heldDeletes struct {
	files.Deletes
	release chan struct{}
	mu      sync.Mutex
	batches []int
}

func (h *heldDeletes) MarkMany(ctx context.Context, ms []files.Mark, at time.Time) ([]*ent.File, map[uuid.UUID][]*ent.FileVariant, files.MarkTx, error) {
	h.mu.Lock()
	first := len(h.batches) == 0
	h.batches = append(h.batches, len(ms))
	h.mu.Unlock()
	if first {
		select {
		case <-h.release:
		case <-time.After(testenv.WaitTimeout):
			return nil, nil, nil, errors.New("the test never released the first batch")
		}
	}
	return h.Deletes.MarkMany(ctx, ms, at)
}

func (h *heldDeletes) sizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.batches)
}

// TestConcurrentDeletesShareAMark: deleteFile calls that arrive while a
// mark is being committed wait, and the next batch marks them all in one
// transaction (their events share its xid); each call still gets its own
// answer: its file deleted (rows, object, usage), a file two calls name
// deleted once and NOT_FOUND to the other, another user's file NOT_FOUND
// and left alone.
func TestConcurrentDeletesShareAMark(t *testing.T) {
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	held := &heldDeletes{release: make(chan struct{})}
	f := newFixtureOn(t, pg.URL, files.Limits{}, func(o *files.Options, db *database.DB) {
		held.Deletes = db.Deletes
		o.Deletes = held
	})
	ctx := context.Background()
	var alices []*ent.File
	for i := range 10 {
		u := f.issue(t, "alice", "a.txt", 3)
		f.put(t, u, []byte("abc"))
		saved, err := f.svc.Save(as("alice"), []*files.SaveRequest{save("a.txt", u)})
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		alices = append(alices, saved[0])
	}
	u := f.issue(t, "bob", "b.txt", 3)
	f.put(t, u, []byte("xyz"))
	bobs, err := f.svc.Save(as("bob"), []*files.SaveRequest{save("b.txt", u)})
	if err != nil {
		t.Fatal(err)
	}

	type call struct {
		user string
		id   uuid.UUID
	}
	results := make(chan error, 13)
	del := func(c call) { results <- f.svc.Delete(as(c.user), c.id) }
	go del(call{"alice", alices[0].ID})
	testenv.WaitFor(t, "the first batch to be held", func() bool { return len(held.sizes()) == 1 })
	calls := []call{{"alice", alices[1].ID}, {"alice", bobs[0].ID}}
	for _, a := range alices[1:] {
		calls = append(calls, call{"alice", a.ID})
	}
	for _, c := range calls {
		go del(c)
	}
	testenv.WaitFor(t, "the other calls to wait for the next batch", func() bool { return files.MarksWaiting(f.svc) == len(calls) })
	close(held.release)

	var deleted, notFound int
	for range 1 + len(calls) {
		switch err := <-results; {
		case err == nil:
			deleted++
		case errors.Is(err, files.ErrNotFound):
			notFound++
		default:
			t.Errorf("a delete failed: %v", err)
		}
	}
	if deleted != 10 || notFound != 2 {
		t.Errorf("%d deleted and %d not found, want 10 (each of alice's files once) and 2 (her file named twice, bob's)", deleted, notFound)
	}
	if got := held.sizes(); !slices.Equal(got, []int{1, len(calls)}) {
		t.Errorf("batches of %v marks, want [1 %d]", got, len(calls))
	}
	if n := f.db.Ent.File.Query().Where(file.Owner("alice")).CountX(ctx); n != 0 {
		t.Errorf("alice has %d rows left", n)
	}
	if b := f.db.Ent.File.GetX(ctx, bobs[0].ID); b.DeletedAt != nil {
		t.Error("bob's file was marked")
	}
	for _, a := range alices {
		if _, err := f.store.Stat(ctx, a.FileName); err == nil {
			t.Errorf("%s is still stored", a.FileName)
		}
	}
	if u := f.db.Ent.Usage.GetX(ctx, "alice"); u.SavedCount != 0 || u.SavedBytes != 0 {
		t.Errorf("alice's usage after deleting everything: %d files, %d bytes", u.SavedCount, u.SavedBytes)
	}
	evs := f.db.Ent.Event.Query().Where(event.Type(files.EventDeleted)).AllX(ctx)
	xids := map[int64]int{}
	for _, e := range evs {
		xids[e.Xid]++
	}
	if len(evs) != 10 || len(xids) != 2 {
		t.Errorf("%d file.deleted events in %d transactions, want 10 in 2", len(evs), len(xids))
	}
}
