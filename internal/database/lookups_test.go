package database

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
)

// FileForDownload finds what the rules' scope lets the caller see, and
// nothing else: the owner's file (ready or not: the rules judge the
// status), any owner's for "" (an admin), never a file being deleted,
// another owner's or a missing id; the answer is what ent reads of the
// same row with the same predicates. Run often enough on one connection
// for PostgreSQL's to have prepared the statements (DATABASE_PREPARE).
func TestLookupsFileForDownload(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet, Prepare(true), MaxConns(1))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			create := func(owner string, status file.Status, deleting bool) uuid.UUID {
				t.Helper()
				c := db.Ent.File.Create().SetBucket("b").SetFileName("files/" + uuid.NewString()).
					SetOriginalName("a \"b\".txt").SetSize(5).SetContentType("text/plain").SetOwner(owner).SetStatus(status)
				if deleting {
					c.SetDeletedAt(time.Now())
				}
				f, err := c.Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return f.ID
			}
			ready := create("alice", file.StatusREADY, false)
			held := create("alice", file.StatusSCANNING, false)
			deleting := create("alice", file.StatusREADY, true)
			bobs := create("bob", file.StatusREADY, false)
			for _, c := range []struct {
				id    uuid.UUID
				owner string
				found bool
			}{
				{ready, "alice", true}, {held, "alice", true}, {deleting, "alice", false}, {bobs, "alice", false},
				{uuid.New(), "alice", false}, {ready, "", true}, {bobs, "", true}, {deleting, "", false}, {ready, "bob", false},
			} {
				scope := file.DeletedAtIsNil()
				if c.owner != "" {
					scope = file.And(file.Owner(c.owner), scope)
				}
				want, err := db.Ent.File.Query().Where(file.ID(c.id), scope).
					Select(file.FieldFileName, file.FieldOriginalName, file.FieldContentType, file.FieldStatus).Only(ctx)
				if ent.IsNotFound(err) {
					want, err = nil, nil
				}
				if err != nil {
					t.Fatal(err)
				}
				for range 3 { // the second sending prepares, the third runs prepared
					got, err := db.Lookups.FileForDownload(ctx, c.id, c.owner)
					if err != nil {
						t.Fatal(err)
					}
					if (got != nil) != c.found || (want != nil) != c.found {
						t.Fatalf("%v as %q: found %v, ent found %v, want %v", c.id, c.owner, got != nil, want != nil, c.found)
					}
					if got != nil && (got.ID != want.ID || got.FileName != want.FileName || got.OriginalName != want.OriginalName ||
						got.ContentType != want.ContentType || got.Status != want.Status) {
						t.Errorf("%v as %q: %+v, ent read %+v", c.id, c.owner, got, want)
					}
				}
			}
			if b.dialect == "postgres" {
				// One connection: the view is of the session that ran them.
				var n int
				if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement IN ($1, $2)`,
					fileForDownload, ownFileForDownload).Scan(&n); err != nil || n != 2 {
					t.Errorf("statements prepared: %d, %v; want both", n, err)
				}
			}
			// Past its deadline, the lookup's error is marked as every ent
			// statement's is: the client gets UNAVAILABLE.
			late, cancelLate := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancelLate()
			if _, err := db.Lookups.FileForDownload(late, ready, "alice"); !unavailable(err) {
				t.Errorf("lookup past its deadline: %v, want it marked unavailable", err)
			}
		})
	}
}
