package database

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/foldercount"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/testenv"
)

// AddCountsAndEvents adds to usage rows and folder counts as Add and
// AddFolders do and writes the events, stamped on PostgreSQL with the
// transaction's id (0 on SQLite), taking no lock beyond the rows', and
// returns their ids in the order given.
func TestAddCountsAndEvents(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for round := 1; round <= 4; round++ {
				tx, err := db.Ent.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				us := []ent.Usage{{ID: "ada", SavedCount: 1, SavedBytes: 10, PendingCount: -1, PendingBytes: -10}, {ID: "bob", SavedCount: 2, SavedBytes: 20}}
				ds := []files.FolderDelta{{Owner: "ada", Path: "a", Files: 1}, {Owner: "ada", Path: "a/b", Files: 1}, {Owner: "bob", Path: "x", Files: 2}}
				switch round {
				case 3:
					us, ds = us[:1], nil // either part alone
				case 4:
					us, ds = nil, nil // the events alone
				}
				now := time.Now().UTC().Truncate(time.Millisecond)
				var evs []files.NewEvent
				for i := range round {
					evs = append(evs, files.NewEvent{PublicID: uuid.New(), Type: "file.saved", FileID: uuid.New(),
						Owner: "ada", Collection: "default", Data: fmt.Sprintf(`{"n":%d}`, i), CreatedAt: now})
				}
				ids, err := db.Usages.AddCountsAndEvents(ctx, tx, us, ds, evs)
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) != len(evs) {
					t.Fatalf("round %d: %d ids for %d events", round, len(ids), len(evs))
				}
				var xid int64
				for i, e := range evs {
					got, err := tx.Event.Get(ctx, ids[i])
					if err != nil {
						t.Fatal(err)
					}
					if got.PublicID != e.PublicID || got.FileID != e.FileID || got.Data != e.Data || got.Type != e.Type ||
						got.Owner != e.Owner || got.Collection != e.Collection || !got.CreatedAt.Equal(now) {
						t.Fatalf("round %d: event %d is %+v, written %+v", round, i, got, e)
					}
					if i > 0 && got.Xid != xid {
						t.Fatalf("round %d: events stamped %d and %d", round, xid, got.Xid)
					}
					xid = got.Xid
				}
				if b.name == "postgres" {
					rows, err := tx.QueryContext(ctx, "SELECT pg_current_xact_id()::text::bigint")
					if err != nil {
						t.Fatal(err)
					}
					var want int64
					if !rows.Next() {
						t.Fatal("no transaction id")
					}
					if err := rows.Scan(&want); err != nil {
						t.Fatal(err)
					}
					rows.Close()
					if xid != want || xid <= 0 {
						t.Fatalf("round %d: stamp %d, the transaction's id %d", round, xid, want)
					}
					var held int
					if err := db.health.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&held); err != nil || held != 0 {
						t.Fatalf("round %d: %d advisory locks held in the transaction, %v", round, held, err)
					}
				} else if xid != 0 {
					t.Fatalf("round %d: stamp %d on SQLite", round, xid)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			for owner, want := range map[string][4]int64{"ada": {3, 30, -3, -30}, "bob": {4, 40, 0, 0}} {
				u, err := db.Ent.Usage.Get(ctx, owner)
				if err != nil {
					t.Fatal(err)
				}
				if got := [4]int64{u.SavedCount, u.SavedBytes, u.PendingCount, u.PendingBytes}; got != want {
					t.Errorf("%s: saved, bytes, pending, pending bytes %v, want %v", owner, got, want)
				}
			}
			counts := map[string]int{}
			for _, f := range db.Ent.FolderCount.Query().AllX(ctx) {
				counts[f.Owner+":"+f.Parent+"/"+f.Name] = int(f.FileCount)
			}
			want := map[string]int{"ada:/a": 2, "ada:a/b": 2, "bob:/x": 4}
			if len(counts) != len(want) {
				t.Fatalf("folder counts %v, want %v", counts, want)
			}
			for k, n := range want {
				if counts[k] != n {
					t.Errorf("folder counts %v, want %v", counts, want)
				}
			}
			if b.name == "postgres" {
				var held int
				if err := db.health.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&held); err != nil || held != 0 {
					t.Fatalf("%d advisory locks after the commits, %v", held, err)
				}
			}
		})
	}
}

// CommitCountsAndEvents writes what AddCountsAndEvents writes, values
// that need quoting as given, and on PostgreSQL commits them in the same
// round trip: another connection sees them before the caller commits the
// empty transaction left. A statement that fails commits nothing, and
// the transaction rolls back.
func TestCommitCountsAndEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	db, err := Open(ctx, pg.URL, "", true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	odd := `{"note":"it's a \\ and $1 and 'quotes' and ünï"}`
	evs := []files.NewEvent{
		{PublicID: uuid.New(), Type: "file.saved", FileID: uuid.New(), Owner: "o'brien", Collection: "default", Data: odd, CreatedAt: now},
		{PublicID: uuid.New(), Type: "file.saved", FileID: uuid.New(), Owner: "o'brien", Collection: "", Data: "{}", CreatedAt: now},
	}
	us := []ent.Usage{{ID: "o'brien", SavedCount: 2, SavedBytes: 20, PendingCount: -2, PendingBytes: -20}}
	ds := []files.FolderDelta{{Owner: "o'brien", Collection: "default", Path: "a$2/b", Files: 2}}
	tx, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Usages.CommitCountsAndEvents(ctx, tx, us, ds, evs); err != nil {
		t.Fatal(err)
	}
	// Seen from another connection before tx's own commit.
	var n int
	var xid int64
	if err := db.health.QueryRowContext(ctx, "SELECT count(*), min(xid) FROM events").Scan(&n, &xid); err != nil || n != 2 || xid <= 0 {
		t.Fatalf("%d events (xid %d) committed, %v", n, xid, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("committing the empty transaction left: %v", err)
	}
	for _, e := range evs {
		got, err := db.Ent.Event.Query().Where(event.PublicID(e.PublicID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Data != e.Data || got.Owner != e.Owner || got.Collection != e.Collection || got.FileID != e.FileID || !got.CreatedAt.Equal(now) || got.Xid != xid {
			t.Errorf("event %+v, written %+v (xid %d)", got, e, xid)
		}
	}
	u, err := db.Ent.Usage.Get(ctx, "o'brien")
	if err != nil || u.SavedCount != 2 || u.SavedBytes != 20 || u.PendingCount != -2 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	fc, err := db.Ent.FolderCount.Query().Where(foldercount.Owner("o'brien"), foldercount.Name("b")).Only(ctx)
	if err != nil || fc.Parent != "a$2" || fc.FileCount != 2 {
		t.Fatalf("folder count %+v, %v", fc, err)
	}

	// A failing statement (a repeated public_id) commits nothing.
	tx, err = db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := []files.NewEvent{evs[1], evs[1]}
	again[0].PublicID = uuid.New()
	if err := db.Usages.CommitCountsAndEvents(ctx, tx, us, nil, again); err == nil {
		t.Fatal("a repeated public_id was written")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("rolling back: %v", err)
	}
	if err := db.health.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d events after the failed statement, %v", n, err)
	}
	if u, err := db.Ent.Usage.Get(ctx, "o'brien"); err != nil || u.SavedCount != 2 {
		t.Fatalf("usage %+v after the failed statement, %v", u, err)
	}
	// The pool's connections still work.
	for range 3 {
		if _, err := db.Ent.Usage.Get(ctx, "o'brien"); err != nil {
			t.Fatal(err)
		}
	}
}
