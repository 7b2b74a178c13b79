package database

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent"
)

// What the ent client returns carries the mark when the database could not
// serve the statement, and only then: a statement cut short by its
// deadline while it waits for a row lock (in a transaction and out of one)
// is busy; a unique key violated is the statement's own fault, and ent
// still reads it as a constraint error.
func TestErrorsMarkedAtTheBoundary(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Ent.Usage.Create().SetID("alice").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			err = db.Ent.Usage.Create().SetID("alice").Exec(ctx)
			if !ent.IsConstraintError(err) || unavailable(err) {
				t.Errorf("duplicate key: %v, want a constraint error not marked unavailable", err)
			}

			holder, err := db.Ent.Tx(ctx) // locks the row (SQLite: the whole file)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback()
			if err := holder.Usage.UpdateOneID("alice").AddSavedCount(1).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			err = db.Ent.Usage.UpdateOneID("alice").AddSavedCount(1).Exec(short)
			if !errors.Is(err, ErrBusy) || !unavailable(err) {
				t.Errorf("update waiting past its deadline: %v, want ErrBusy", err)
			}
			if b.dialect == "postgres" {
				// SQLite's writers wait for their transaction, not in it.
				short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				tx, err := db.Ent.Tx(short)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				err = tx.Usage.UpdateOneID("alice").AddSavedCount(1).Exec(short)
				if !errors.Is(err, ErrBusy) || !unavailable(err) {
					t.Errorf("update in a transaction waiting past its deadline: %v, want ErrBusy", err)
				}
			}
		})
	}
}

// unavailable asks err as the rules do, without naming this package.
func unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}
