//go:build ignore

// diff writes the next migration file for each dialect: the statements that
// take a database from the committed migrations to the current ent schema.
// PostgreSQL needs a server to replay the directory on; DEV_DATABASE_URL
// names one (default: the local test server), and a scratch database is
// made there and dropped afterwards.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	entmigrate "github.com/filegraph/filegraph/ent/migrate"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run -mod=mod ./ent/migrate/migrations/diff.go <name>")
	}
	name := os.Args[1]
	ctx := context.Background()
	// One version for both dialects, so that a change reads as one step.
	version := migrate.NewVersion()

	lite, err := sql.Open("sqlite", "file:dev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		log.Fatal(err)
	}
	lite.SetMaxOpenConns(1) // one connection: the in-memory database lives in it
	if err := diff(ctx, lite, dialect.SQLite, version, name); err != nil {
		log.Fatalf("sqlite: %v", err)
	}

	server := os.Getenv("DEV_DATABASE_URL")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("postgres", server)
	if err != nil {
		log.Fatal(err)
	}
	const scratch = "filegraph_migration_dev"
	admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+scratch)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		log.Fatalf("postgres: %v", err)
	}
	defer admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+scratch)
	pg, err := sql.Open("postgres", "postgres://postgres@127.0.0.1:5432/"+scratch+"?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	err = diff(ctx, pg, dialect.Postgres, version, name)
	pg.Close()
	if err != nil {
		log.Fatalf("postgres: %v", err)
	}
}

func diff(ctx context.Context, db *sql.DB, d, version, name string) error {
	dir, err := migrate.NewLocalDir(filepath.Join("ent", "migrate", "migrations", dirName(d)))
	if err != nil {
		return err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(d, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithFormatter(versioned(version)),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		return err
	}
	if err := m.NamedDiff(ctx, name, entmigrate.Tables...); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	return nil
}

func dirName(d string) string {
	if d == dialect.SQLite {
		return "sqlite"
	}
	return d
}

// versioned formats plans as Atlas does, under a fixed version.
type versioned string

func (v versioned) Format(p *migrate.Plan) ([]migrate.File, error) {
	p.Version = string(v)
	return migrate.DefaultFormatter.Format(p)
}
