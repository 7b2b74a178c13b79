package database

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/upload"
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

// Issue writes the insert's rows and the reservation together, or neither:
// a reservation past a bound leaves no upload row behind, and an insert
// ent refuses (an empty name) writes nothing either.
func TestUsagesIssue(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			n := 0
			uploads := func(names ...string) []*ent.Upload {
				ups := make([]*ent.Upload, len(names))
				for i, name := range names {
					n++
					ups[i] = &ent.Upload{FileName: fmt.Sprintf("files/%d", n), OriginalName: name,
						Size: 10, ContentType: "text/plain", ExpiresAt: time.Now().Add(time.Hour), Owner: "bob"}
				}
				return ups
			}
			state := func() (int, totals) {
				t.Helper()
				rows, err := db.Ent.Upload.Query().Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				r, err := db.Ent.Usage.Get(ctx, "bob")
				if ent.IsNotFound(err) {
					return rows, totals{}
				}
				if err != nil {
					t.Fatal(err)
				}
				return rows, totals{r.PendingCount, r.PendingBytes, r.SavedCount, r.SavedBytes}
			}
			issue := func(ups []*ent.Upload, count int64, maxPending, quota int64) (bool, error) {
				return db.Usages.Issue(ctx, ups, ent.Usage{ID: "bob", PendingCount: count, PendingBytes: 10 * count}, maxPending, quota)
			}
			for _, c := range []struct {
				name              string
				files             []string
				maxPending, quota int64
				ok                bool
				rows              int
				after             totals
			}{
				{"two, creating the row", []string{"a", "b"}, 2, 0, true, 2, totals{pendingCount: 2, pendingBytes: 20}},
				{"one past the count", []string{"c"}, 2, 0, false, 2, totals{pendingCount: 2, pendingBytes: 20}},
				{"one byte past the quota", []string{"c"}, 0, 29, false, 2, totals{pendingCount: 2, pendingBytes: 20}},
				{"exactly at both", []string{"c"}, 3, 30, true, 3, totals{pendingCount: 3, pendingBytes: 30}},
			} {
				ok, err := issue(uploads(c.files...), int64(len(c.files)), c.maxPending, c.quota)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if ok != c.ok {
					t.Errorf("%s: Issue = %v, want %v", c.name, ok, c.ok)
				}
				if rows, got := state(); rows != c.rows || got != c.after {
					t.Errorf("%s: %d upload rows and usage %+v, want %d and %+v", c.name, rows, got, c.rows, c.after)
				}
			}
			// ent's own check refuses an empty original name: nothing is written.
			if _, err := issue(uploads(""), 1, 0, 0); err == nil || !strings.Contains(err.Error(), `"Upload.original_name"`) {
				t.Errorf("an empty name: %v, want ent's validator's error", err)
			}
			if rows, got := state(); rows != 3 || got != (totals{pendingCount: 3, pendingBytes: 30}) {
				t.Errorf("after a refused insert: %d rows, usage %+v", rows, got)
			}
			// A row is what ent's builders would have written: every field
			// given, and ent's defaults for the rest.
			given := &ent.Upload{FileName: "files/given", OriginalName: "given.bin", Size: 7, ContentType: "application/pdf",
				ChecksumSha256: "c2hh", Folder: "a/b", Metadata: schema.Metadata{"k": "v"}, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Microsecond),
				Owner: "bob", Collection: "docs", MultipartID: "mp-1", PartSize: 5, PartCount: 2, PartChecksums: true}
			defaulted := &ent.Upload{FileName: "files/defaulted", OriginalName: "d.txt", Size: 1, ContentType: "text/plain",
				ExpiresAt: given.ExpiresAt, Owner: "bob"}
			before := time.Now()
			if ok, err := issue([]*ent.Upload{given, defaulted}, 2, 0, 0); err != nil || !ok {
				t.Fatalf("issuing two: %v, %v", ok, err)
			}
			for _, want := range []*ent.Upload{given, defaulted} {
				got, err := db.Ent.Upload.Query().Where(upload.FileName(want.FileName)).Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID.Version() != 7 || got.ID != want.ID {
					t.Errorf("%s: id %s, want the version 7 id Issue gave it (%s)", want.FileName, got.ID, want.ID)
				}
				if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
					t.Errorf("%s: created_at %v, want about now", want.FileName, got.CreatedAt)
				}
				if want.Metadata == nil {
					want.Metadata = schema.Metadata{}
				}
				got.ID, got.CreatedAt, want.CreatedAt = want.ID, time.Time{}, time.Time{}
				got.ExpiresAt = got.ExpiresAt.In(want.ExpiresAt.Location())
				if got.String() != want.String() || fmt.Sprint(got.Metadata) != fmt.Sprint(want.Metadata) {
					t.Errorf("row written:\n%s %v\nwant\n%s %v", got, got.Metadata, want, want.Metadata)
				}
			}
			if defaulted.Collection != upload.DefaultCollection {
				t.Errorf("collection left empty became %q, want ent's default %q", defaulted.Collection, upload.DefaultCollection)
			}
			if b.name != "postgres" {
				return
			}
			// One statement for each number of uploads, written once.
			if _, err := issue(uploads("d"), 1, 0, 0); err != nil {
				t.Fatal(err)
			}
			st1 := db.Usages.issueStatement(1, 0, 0)
			if st2 := db.Usages.issueStatement(1, 0, 0); unsafe.StringData(st1) != unsafe.StringData(st2) {
				t.Error("the statement for one upload was written again")
			}
			if strings.Count(db.Usages.issueStatement(3, 0, 0), "), (") != 2 {
				t.Errorf("the statement for three uploads: %s", db.Usages.issueStatement(3, 0, 0))
			}
			if rows, _ := state(); rows != 6 {
				t.Errorf("after issuing 6 in all: %d rows", rows)
			}
		})
	}
}
