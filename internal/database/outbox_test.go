package database

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
)

// On PostgreSQL a writer of events waits at Lock for the one before it to
// commit, so the numbers follow the commits: a reader that saw the later
// one can never miss the earlier. The commit reaches another connection's
// Listen; the wake of this process comes from Committed.
func TestOutboxOrdersCommits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, _ := backends[1].open(t)
	db, err := Open(ctx, url, "", true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	woken := make(chan struct{}, 16)
	listenCtx, stopListen := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		db.Listen(listenCtx, func() { woken <- struct{}{} }, quiet)
	}()
	defer func() { stopListen(); <-listening }()
	local := make(chan struct{}, 16)
	db.Outbox.OnCommit(func() { local <- struct{}{} })

	write := func(tx *ent.Tx) int64 {
		t.Helper()
		if err := db.Outbox.Lock(ctx, tx); err != nil {
			t.Fatal(err)
		}
		ev, err := tx.Event.Create().SetType("file.saved").SetFileID(uuid.New()).SetOwner("alice").
			SetData(`{}`).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	a, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := write(a)
	second := make(chan int64, 1)
	go func() {
		b, err := db.Ent.Tx(ctx)
		if err != nil {
			t.Error(err)
			second <- 0
			return
		}
		id := write(b)
		if err := b.Commit(); err != nil {
			t.Error(err)
		}
		second <- id
	}()
	// The second writer is waiting for the advisory lock.
	for {
		var waiting int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the second writer never waited for the lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Outbox.Committed()
	var later int64
	select {
	case later = <-second:
	case <-ctx.Done():
		t.Fatal("the second writer never committed")
	}
	if later <= first {
		t.Fatalf("the later commit got %d, the earlier %d", later, first)
	}
	ids, err := db.Ent.Event.Query().Order(ent.Asc(event.FieldID)).IDs(ctx)
	if err != nil || len(ids) != 2 {
		t.Fatalf("events %v, %v", ids, err)
	}
	select {
	case <-woken:
	case <-ctx.Done():
		t.Fatal("Listen was not woken by the commits")
	}
	select {
	case <-local:
	case <-ctx.Done():
		t.Fatal("Committed did not wake")
	}
}
