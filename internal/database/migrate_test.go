package database

import (
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"testing"

	atlas "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	entmigrate "github.com/filegraph/filegraph/ent/migrate"
	"github.com/filegraph/filegraph/ent/migrate/migrations"
	"github.com/filegraph/filegraph/internal/testenv"
)

// backend is a fresh, empty database of one dialect.
type backend struct {
	name    string
	dialect string
	open    func(t *testing.T) (url, dataDir string)
}

var backends = []backend{
	{"sqlite", dialect.SQLite, func(t *testing.T) (string, string) { return "", t.TempDir() }},
	{"postgres", dialect.Postgres, func(t *testing.T) (string, string) {
		pg, err := testenv.NewPostgres()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		return pg.URL, ""
	}},
}

var quiet = slog.New(slog.DiscardHandler)

// The committed migrations must produce exactly the schema ent expects:
// a schema change without its migration file fails here.
func TestMigrationsMatchSchema(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var changes []atlas.Change
			m, err := schema.NewMigrate(entsql.OpenDB(b.dialect, db.SQL), schema.WithDiffHook(func(next schema.Differ) schema.Differ {
				return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
					cs, err := next.Diff(current, desired)
					changes = cs
					return nil, err // plan nothing: this only looks
				})
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Create(ctx, entmigrate.Tables...); err != nil {
				t.Fatal(err)
			}
			if len(changes) > 0 {
				t.Fatalf("ent/schema differs from the migrations by %d changes (first: %#v); add a migration: go run -mod=mod ./ent/migrate/migrations/diff.go <name>", len(changes), changes[0])
			}
			// Opening again applies nothing.
			applied, err := Migrate(ctx, db.SQL, b.dialect)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second migrate applied %v, %v", applied, err)
			}
		})
	}
}

// A database created before migrations were versioned, holding files,
// upgrades in place and keeps them.
func TestUpgradeKeepsFiles(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url, dir := b.open(t)
			raw := rawOpen(t, b.dialect, url, dir)
			execFile(t, raw, b.dialect, 0) // the schema issue-2 servers created
			if _, err := raw.ExecContext(ctx, `INSERT INTO files (id, bucket, file_name, original_name, size, content_type, created_at)
				VALUES ('0193a6f4-0000-7000-8000-000000000001', 'b', 'files/a.txt', 'a.txt', 5, 'text/plain', '2026-01-02 03:04:05')`); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.ExecContext(ctx, `INSERT INTO uploads (id, file_name, original_name, size, content_type, expires_at, created_at)
				VALUES ('0193a6f4-0000-7000-8000-000000000002', 'files/b.txt', 'b.txt', 7, 'text/plain', '2026-01-02 03:04:05', '2026-01-02 03:04:05')`); err != nil {
				t.Fatal(err)
			}
			raw.Close()

			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			files, err := db.Ent.File.Query().All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].FileName != "files/a.txt" || files[0].Size != 5 || files[0].OriginalName != "a.txt" {
				t.Fatalf("files after upgrade: %+v", files)
			}
			checkUpgraded(t, db)
			if n, err := db.Ent.Upload.Query().Count(ctx); err != nil || n != 1 {
				t.Fatalf("uploads after upgrade: %d, %v", n, err)
			}
			if pending, err := Pending(ctx, db.SQL, b.dialect); err != nil || len(pending) != 0 {
				t.Fatalf("pending after upgrade: %v, %v", pending, err)
			}
		})
	}
}

// Without migrate, Open refuses a database that is behind, and says what to do.
func TestOpenRefusesPendingMigrations(t *testing.T) {
	_, dir := backends[0].open(t)
	_, err := Open(context.Background(), "", dir, false, quiet)
	if err == nil || !strings.Contains(err.Error(), "filegraph migrate") {
		t.Fatalf("err = %v", err)
	}
}

// Replicas starting together take turns; each sees the schema complete.
// TestConcurrentMigrate: four servers starting at once on an empty
// database apply each migration exactly once, between them, and all come up
// on the complete schema.
func TestConcurrentMigrate(t *testing.T) {
	url, _ := backends[1].open(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			db, err := Open(context.Background(), url, "", true, quiet)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := rawOpen(t, dialect.Postgres, url, "")
	defer db.Close()
	files, err := os.ReadDir("../../ent/migrate/migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			want++
		}
	}
	var rows, complete, distinct int
	if err := db.QueryRow("SELECT count(*), count(*) FILTER (WHERE applied = total), count(DISTINCT version) FROM "+revisionsTable).Scan(&rows, &complete, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != want || complete != want || distinct != want {
		t.Errorf("revisions: %d rows, %d complete, %d distinct; want each of the %d migrations once, complete", rows, complete, distinct, want)
	}
	// The schema is the complete one: Open without migrating finds nothing pending.
	if db, err := Open(context.Background(), url, "", false, quiet); err != nil {
		t.Errorf("after the concurrent start: %v", err)
	} else {
		db.Close()
	}
}

func rawOpen(t *testing.T, d, url, dir string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if d == dialect.Postgres {
		db, err = sql.Open("postgres", url)
	} else {
		db, err = sql.Open("sqlite", "file:"+path.Join(dir, "filegraph.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// execFile runs the i-th committed migration of the dialect as plain SQL.
func execFile(t *testing.T, db *sql.DB, d string, i int) {
	t.Helper()
	name := "postgres"
	if d == dialect.SQLite {
		name = "sqlite"
	}
	entries, err := fs.Glob(migrations.FS, name+"/*.sql")
	if err != nil || len(entries) <= i {
		t.Fatalf("migration %d of %s: %v", i, name, err)
	}
	b, err := fs.ReadFile(migrations.FS, entries[i])
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(b), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", entries[i], err)
		}
	}
}
