package database

import (
	"context"
	"testing"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/files"
)

// AddCountsThenLock adds to usage rows and folder counts as Add and
// AddFolders do and, on PostgreSQL, holds the outbox's lock to the commit.
func TestAddCountsThenLock(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for round := 1; round <= 3; round++ {
				tx, err := db.Ent.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				us := []ent.Usage{{ID: "ada", SavedCount: 1, SavedBytes: 10, PendingCount: -1, PendingBytes: -10}, {ID: "bob", SavedCount: 2, SavedBytes: 20}}
				ds := []files.FolderDelta{{Owner: "ada", Path: "a", Files: 1}, {Owner: "ada", Path: "a/b", Files: 1}, {Owner: "bob", Path: "x", Files: 2}}
				if round == 3 {
					us, ds = us[:1], nil // either part alone
				}
				if err := db.Usages.AddCountsThenLock(ctx, tx, us, ds); err != nil {
					t.Fatal(err)
				}
				if b.name == "postgres" {
					var held int
					if err := db.health.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").Scan(&held); err != nil || held != 1 {
						t.Fatalf("round %d: %d advisory locks held in the transaction, %v", round, held, err)
					}
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
				if err := db.health.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").Scan(&held); err != nil || held != 0 {
					t.Fatalf("%d advisory locks after the commits, %v", held, err)
				}
			}
		})
	}
}
