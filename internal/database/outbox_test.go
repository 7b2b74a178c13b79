package database

import (
	"context"
	"log/slog"
	"slices"

	"entgo.io/ent/dialect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
)

// eventIn writes, in tx, an event of file as the files service does:
// the file's row first (a usage row stands in for it: the same row lock),
// then the stamp, then the event.
func eventIn(t *testing.T, db *DB, tx *ent.Tx, file uuid.UUID) int64 {
	t.Helper()
	ctx := context.Background()
	if err := db.Usages.Add(ctx, tx, ent.Usage{ID: file.String(), SavedCount: 1}); err != nil {
		t.Fatal(err)
	}
	xid, err := db.Outbox.Stamp(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tx.Event.Create().SetType("file.updated").SetFileID(file).SetOwner("alice").
		SetData(`{}`).SetXid(xid).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// commitEvent commits a transaction of one event (eventIn) and returns
// its number.
func commitEvent(t *testing.T, db *DB) int64 {
	t.Helper()
	tx, err := db.Ent.Tx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := eventIn(t, db, tx, uuid.New())
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return id
}

// read has r read until its read is complete (pages of n), returning
// the numbers read.
func read(t *testing.T, r *EventReader, n int) []int64 {
	t.Helper()
	var ids []int64
	for {
		evs, err := r.Next(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if len(evs) < n {
			return ids
		}
	}
}

// The cases the advisory lock of before was there for, forced on two
// connections with a reader reading between: transactions commit side by
// side (none waits on another's stamp), one with the smaller number
// committing last is read once, after it commits, never passed; two
// transactions on one file, the one with the older transaction id waiting
// for the other's row lock and so committing last, come in the order of
// their commits, in two reads. The commits reach another connection's
// Listen, and Committed wakes this process.
func TestEventReaderHazard(t *testing.T) {
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

	begin := func() *ent.Tx {
		t.Helper()
		tx, err := db.Ent.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	commit := func(tx *ent.Tx) {
		t.Helper()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	r := db.EventReader()
	if got := read(t, r, 500); len(got) != 0 {
		t.Fatalf("the first read read %v", got)
	}

	// Two files, the smaller number committing last.
	g, h := uuid.New(), uuid.New()
	a, b := begin(), begin()
	smaller := eventIn(t, db, a, g)
	larger := eventIn(t, db, b, h)
	if larger <= smaller {
		t.Fatalf("numbers %d then %d", smaller, larger)
	}
	commit(b)
	if got := read(t, r, 500); !slices.Equal(got, []int64{larger}) {
		t.Fatalf("with %d open and %d committed, read %v", smaller, larger, got)
	}
	if got := read(t, r, 500); len(got) != 0 {
		t.Fatalf("read again: %v", got)
	}
	commit(a)
	if got := read(t, r, 500); !slices.Equal(got, []int64{smaller}) {
		t.Fatalf("once %d committed, read %v", smaller, got)
	}

	// One file: old has the older transaction id but waits for young's
	// row lock.
	f := uuid.New()
	old := begin()
	if _, err := old.Event.Query().Count(ctx); err != nil { // a snapshot, no id yet
		t.Fatal(err)
	}
	if _, err := db.Outbox.Stamp(ctx, old); err != nil { // its id, now
		t.Fatal(err)
	}
	young := begin()
	first := eventIn(t, db, young, f)
	second := make(chan int64, 1)
	go func() {
		defer close(second)
		// The stand-in of the file's row is locked by young: this waits.
		if err := db.Usages.Add(ctx, old, ent.Usage{ID: f.String(), SavedCount: 1}); err != nil {
			t.Error(err)
			return
		}
		xid, err := db.Outbox.Stamp(ctx, old)
		if err != nil {
			t.Error(err)
			return
		}
		ev, err := old.Event.Create().SetType("file.deleted").SetFileID(f).SetOwner("alice").
			SetData(`{}`).SetXid(xid).Save(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		second <- ev.ID
	}()
	waitFor(t, ctx, db, "the older transaction waiting for the file's row", `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted`, 1)
	if got := read(t, r, 500); len(got) != 0 {
		t.Fatalf("with both open, read %v", got)
	}
	commit(young)
	var later int64
	select {
	case later = <-second:
	case <-ctx.Done():
		t.Fatal("the older transaction never wrote its event")
	}
	if later <= first {
		t.Fatalf("the file's second event got %d, its first %d", later, first)
	}
	if got := read(t, r, 500); !slices.Equal(got, []int64{first}) {
		t.Fatalf("with the first committed, read %v", got)
	}
	commit(old)
	db.Outbox.Committed()
	if got := read(t, r, 500); !slices.Equal(got, []int64{later}) {
		t.Fatalf("with the second committed, read %v", got)
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

// A read of more than a page goes on under its first page's snapshot: a
// transaction that commits between its pages (with a smaller number) is
// read by the next read, once; and a rolled-back number is no gap that
// holds anything back. The transaction that commits late writes as a
// replica of before the xid column would (a rolling upgrade): the column's
// default stamps it.
func TestEventReaderPages(t *testing.T) {
	ctx := context.Background()
	url, _ := backends[1].open(t)
	db, err := Open(ctx, url, "", true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := db.EventReader()
	read(t, r, 2)

	late, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := late.QueryContext(ctx, `INSERT INTO events (public_id, type, file_id, owner, data, created_at)
		VALUES (gen_random_uuid(), 'file.saved', gen_random_uuid(), 'old', '{}', now()) RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	var lateID int64
	if !rows.Next() {
		t.Fatal("no id returned")
	}
	if err := rows.Scan(&lateID); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	gone, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventIn(t, db, gone, uuid.New())
	if err := gone.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var five []int64
	for range 5 {
		five = append(five, eventIn(t, db, tx, uuid.New()))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	page := func(want []int64) {
		t.Helper()
		evs, err := r.Next(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range evs {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("page %v, want %v", got, want)
		}
	}
	page(five[:2])
	if err := late.Commit(); err != nil {
		t.Fatal(err)
	}
	page(five[2:4])
	page(five[4:])
	page([]int64{lateID})
	page(nil)
}

// On SQLite numbers follow commits: the reader goes on from the last.
func TestEventReaderSQLite(t *testing.T) {
	ctx := context.Background()
	url, dir := backends[0].open(t)
	db, err := Open(ctx, url, dir, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	commitEvent(t, db) // before the reader starts
	r := db.EventReader()
	if got := read(t, r, 2); len(got) != 0 {
		t.Fatalf("the first read read %v", got)
	}
	want := []int64{commitEvent(t, db), commitEvent(t, db), commitEvent(t, db)}
	if got := read(t, r, 2); !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if got := read(t, r, 2); len(got) != 0 {
		t.Fatalf("read again: %v", got)
	}
}

// waitFor polls query until it counts want.
func waitFor(t *testing.T, ctx context.Context, db *DB, what, query string, want int) {
	t.Helper()
	for {
		var n int
		if err := db.health.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Listen ends with its context even when the database was never reached:
// lib/pq's Listen waits for a connection, which kept a server's listener
// (and its 30 s reconnect loop) alive after the server was gone.
func TestListenEndsWithoutADatabase(t *testing.T) {
	db := &DB{Dialect: dialect.Postgres, url: "postgres://postgres@127.0.0.1:1/none?sslmode=disable"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.Listen(ctx, func() {}, slog.New(slog.DiscardHandler))
	}()
	time.Sleep(200 * time.Millisecond) // a connection attempt or two
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Listen still running 10 s after its context ended")
	}
}
