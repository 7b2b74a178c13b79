package database

import (
	"context"
	"testing"

	"github.com/filegraph/filegraph/ent"
)

// Usages adds to a user's row, creating it, and reserves only within the
// bounds it is given, leaving the row as it was when it refuses.
func TestUsages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			u := db.Usages
			inTx := func(fn func(tx *ent.Tx) error) {
				t.Helper()
				tx, err := db.Ent.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := fn(tx); err != nil {
					tx.Rollback()
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			row := func() totals {
				t.Helper()
				r, err := db.Ent.Usage.Get(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				return totals{r.PendingCount, r.PendingBytes, r.SavedCount, r.SavedBytes}
			}
			reserve := func(d ent.Usage, maxPending, quota int64) bool {
				t.Helper()
				var ok bool
				inTx(func(tx *ent.Tx) (err error) {
					ok, err = u.Reserve(ctx, tx, d, maxPending, quota)
					return err
				})
				return ok
			}

			// A row Reserve creates is not checked: the caller checks what it adds.
			if !reserve(ent.Usage{ID: "alice", PendingCount: 5, PendingBytes: 500}, 2, 100) {
				t.Fatal("Reserve refused to create the row")
			}
			inTx(func(tx *ent.Tx) error {
				return u.Add(ctx, tx, ent.Usage{ID: "alice", PendingCount: -4, PendingBytes: -400, SavedCount: 1, SavedBytes: 40})
			})
			want := totals{pendingCount: 1, pendingBytes: 100, savedCount: 1, savedBytes: 40}
			if got := row(); got != want {
				t.Fatalf("after Add: %+v, want %+v", got, want)
			}
			for _, c := range []struct {
				name              string
				d                 ent.Usage
				maxPending, quota int64
				ok                bool
			}{
				{"one upload over the count", ent.Usage{ID: "alice", PendingCount: 2, PendingBytes: 1}, 2, 0, false},
				{"one byte over the quota", ent.Usage{ID: "alice", PendingCount: 1, PendingBytes: 61}, 0, 200, false},
				{"exactly at both", ent.Usage{ID: "alice", PendingCount: 1, PendingBytes: 60}, 2, 200, true},
				{"no bounds", ent.Usage{ID: "alice", PendingCount: 1 << 40, PendingBytes: 1 << 60}, 0, 0, true},
			} {
				before := row()
				if ok := reserve(c.d, c.maxPending, c.quota); ok != c.ok {
					t.Errorf("%s: Reserve = %v, want %v", c.name, ok, c.ok)
				}
				want := before
				if c.ok {
					want.pendingCount += c.d.PendingCount
					want.pendingBytes += c.d.PendingBytes
				}
				if got := row(); got != want {
					t.Errorf("%s: row %+v, want %+v", c.name, got, want)
				}
			}
		})
	}
}

type totals struct{ pendingCount, pendingBytes, savedCount, savedBytes int64 }
