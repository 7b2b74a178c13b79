package database

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/metadatapair"
	"github.com/filegraph/filegraph/ent/migrate/migrations"
)

// The metadata_pairs migration backfills a row for each pair of each file
// saved before it, with the file's owner and created_at, so the listing's
// metadata filter finds them; files being deleted keep theirs until their
// row goes, and the rows go with it (ON DELETE CASCADE). The database is
// put back as it was before the migration (table dropped, its revision
// forgotten) and then opened as an upgrade would be.
func TestMetadataPairsBackfill(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			version := pairsMigration(t, b.dialect)
			created := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
			undo := []string{"DROP TABLE metadata_pairs"}
			for _, name := range laterMigrations(t, b.dialect, version) {
				q, ok := undoLater[name]
				if !ok {
					t.Fatalf("migration %s came after metadata_pairs: add how to undo it to undoLater", name)
				}
				undo = append(undo, q)
			}
			undo = append(undo, "DELETE FROM "+revisionsTable+" WHERE version >= '"+version+"'")
			for _, q := range undo {
				if _, err := db.SQL.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for i, f := range []struct{ owner, meta, deleted string }{
				{"alice", `{"ticket": "T-1", "kind": "in voice"}`, ""},
				{"alice", `{}`, ""},
				{"bob", `{"ticket": "T-1"}`, ""},
				{"alice", `{"ticket": "T-1"}`, "deleting"},
			} {
				del := any(nil)
				if f.deleted != "" {
					del = created
				}
				if _, err := db.SQL.ExecContext(ctx, rebind(b.dialect, `INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at, owner, metadata, deleted_at)
					VALUES (?, 'b', ?, 'a.txt', 5, 'text/plain', ?, ?, ?, ?)`),
					"0193a6f4-0000-7000-8000-00000000000"+string(rune('1'+i)), "files/"+string(rune('a'+i)), created.Add(time.Duration(i)*time.Second), f.owner, f.meta, del); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()

			db, err = Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			pairs, err := db.Ent.MetadataPair.Query().Order(metadatapair.ByFileID(), metadatapair.ByKey()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pairs {
				got = append(got, p.FileID.String()[35:]+" "+p.Owner+" "+p.Key+"="+p.Value+" "+p.CreatedAt.UTC().Format(time.RFC3339Nano))
			}
			want := []string{
				"1 alice kind=in voice 2026-01-02T03:04:05.123456Z",
				"1 alice ticket=T-1 2026-01-02T03:04:05.123456Z",
				"3 bob ticket=T-1 2026-01-02T03:04:07.123456Z",
				"4 alice ticket=T-1 2026-01-02T03:04:08.123456Z",
			}
			if !slices.Equal(got, want) {
				t.Errorf("backfilled pairs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// The filter finds the backfilled rows (their created_at
			// compares equal to the file's).
			found, err := db.Ent.File.Query().Where(file.Owner("alice"), file.DeletedAtIsNil(), file.MetadataHas("ticket", "T-1")).IDs(ctx)
			if err != nil || len(found) != 1 || !strings.HasSuffix(found[0].String(), "1") {
				t.Errorf("alice's ticket=T-1 after the backfill: %v, %v", found, err)
			}
			// The rows go with their file.
			if _, err := db.Ent.File.Delete().Where(file.Owner("alice")).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if left, err := db.Ent.MetadataPair.Query().Select(metadatapair.FieldOwner).Strings(ctx); err != nil || !slices.Equal(left, []string{"bob"}) {
				t.Errorf("pairs left after alice's files were deleted: %v, %v", left, err)
			}
		})
	}
}

// pairsMigration is the version of the migration that made metadata_pairs.
func pairsMigration(t *testing.T, d string) string {
	t.Helper()
	name := "postgres"
	if d == dialect.SQLite {
		name = "sqlite"
	}
	found, err := fs.Glob(migrations.FS, name+"/*_metadata_pairs.sql")
	if err != nil || len(found) != 1 {
		t.Fatalf("the metadata_pairs migration of %s: %v, %v", name, found, err)
	}
	v, _, _ := strings.Cut(path.Base(found[0]), "_")
	return v
}

// undoLater undoes, by the name of its migration, each migration after
// metadata_pairs, so that the database is as it was before that one
// (atlas refuses to apply a migration older than one applied).
var undoLater = map[string]string{
	"usage_file_writes": "ALTER TABLE usages DROP COLUMN file_writes",
}

// laterMigrations are the names of d's migrations after version, newest first.
func laterMigrations(t *testing.T, d, version string) []string {
	t.Helper()
	name := "postgres"
	if d == dialect.SQLite {
		name = "sqlite"
	}
	found, err := fs.Glob(migrations.FS, name+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var later []string
	for _, f := range found {
		v, rest, _ := strings.Cut(strings.TrimSuffix(path.Base(f), ".sql"), "_")
		if v > version {
			later = append(later, rest)
		}
	}
	slices.Reverse(later)
	return later
}

// rebind writes q's ? placeholders as PostgreSQL's $n.
func rebind(d, q string) string {
	if d != dialect.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
