package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent/migrate/migrations"
)

// revisionsTable records which migration files a database has applied.
const revisionsTable = "schema_revisions"

// Migrate applies the committed migrations that the database has not seen,
// in one transaction, and returns their versions. Replicas starting at once
// take turns: PostgreSQL through an advisory lock, SQLite through its write
// lock. A database made before migrations were versioned (it has the files
// table and no revisions) is marked as holding the first migration, the
// schema it was created with, and moves on from there.
func Migrate(ctx context.Context, db *sql.DB, d string) (applied []string, err error) {
	dir, err := migrationDir(d)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("database: migrating: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if d == dialect.Postgres {
		// Any fixed key will do; it only has to be the same in every replica.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7301832151)"); err != nil {
			return nil, fmt.Errorf("database: migration lock: %w", err)
		}
	}
	rrw := &revisions{tx: tx, dialect: d}
	if err := rrw.init(ctx); err != nil {
		return nil, err
	}
	drv := newApplier(tx, d)
	opts := []migrate.ExecutorOption{migrate.WithLogger(&versionLog{applied: &applied})}
	revs, err := rrw.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		legacy, err := hasTable(ctx, tx, d, "files")
		if err != nil {
			return nil, err
		}
		if legacy {
			files, err := dir.Files()
			if err != nil || len(files) == 0 {
				return nil, fmt.Errorf("database: reading migrations: %w", err)
			}
			opts = append(opts, migrate.WithBaselineVersion(files[0].Version()))
		} else {
			// Our revisions table is there already; Atlas would call that dirty.
			opts = append(opts, migrate.WithAllowDirty(true))
		}
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw, opts...)
	if err != nil {
		return nil, fmt.Errorf("database: migrations: %w", err)
	}
	switch err := ex.ExecuteN(ctx, 0); {
	case errors.Is(err, migrate.ErrNoPendingFiles):
		return nil, tx.Commit()
	case err != nil:
		return nil, fmt.Errorf("database: migrating: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("database: committing migrations: %w", err)
	}
	return applied, nil
}

// Pending returns the versions of the migrations the database has not
// applied, without applying them.
func Pending(ctx context.Context, db *sql.DB, d string) ([]string, error) {
	dir, err := migrationDir(d)
	if err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("database: reading migrations: %w", err)
	}
	done := map[string]bool{}
	if ok, err := hasTable(ctx, db, d, revisionsTable); err != nil {
		return nil, err
	} else if ok {
		rows, err := db.QueryContext(ctx, "SELECT version FROM "+revisionsTable+" WHERE applied = total")
		if err != nil {
			return nil, fmt.Errorf("database: reading revisions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, err
			}
			done[v] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var pending []string
	for _, f := range files {
		if !done[f.Version()] {
			pending = append(pending, f.Version())
		}
	}
	return pending, nil
}

// migrationDir loads the dialect's embedded directory.
func migrationDir(d string) (migrate.Dir, error) {
	name := "postgres"
	if d == dialect.SQLite {
		name = "sqlite"
	}
	sub, err := fs.Sub(migrations.FS, name)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, fmt.Errorf("database: reading migrations: %w", err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func hasTable(ctx context.Context, q querier, d, name string) (bool, error) {
	query := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
	if d == dialect.Postgres {
		query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	}
	var n int
	if err := q.QueryRowContext(ctx, query, name).Scan(&n); err != nil {
		return false, fmt.Errorf("database: looking for table %s: %w", name, err)
	}
	return n > 0, nil
}

// revisions keeps Atlas revisions in a table of ours, inside the migration
// transaction.
type revisions struct {
	tx      *sql.Tx
	dialect string
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

func (r *revisions) init(ctx context.Context) error {
	_, err := r.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+revisionsTable+` (
		version text PRIMARY KEY,
		description text NOT NULL,
		type integer NOT NULL,
		applied integer NOT NULL,
		total integer NOT NULL,
		executed_at text NOT NULL,
		execution_time bigint NOT NULL,
		error text NOT NULL,
		error_stmt text NOT NULL,
		hash text NOT NULL,
		partial_hashes text NOT NULL,
		operator_version text NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("database: creating %s: %w", revisionsTable, err)
	}
	return nil
}

func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: revisionsTable}
}

const revisionColumns = "version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash, partial_hashes, operator_version"

func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	rows, err := r.tx.QueryContext(ctx, "SELECT "+revisionColumns+" FROM "+revisionsTable+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("database: reading revisions: %w", err)
	}
	defer rows.Close()
	var out []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, rows.Err()
}

func (r *revisions) ReadRevision(ctx context.Context, v string) (*migrate.Revision, error) {
	rows, err := r.tx.QueryContext(ctx, "SELECT "+revisionColumns+" FROM "+revisionsTable+" WHERE version = $1", v)
	if err != nil {
		return nil, fmt.Errorf("database: reading revision: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, migrate.ErrRevisionNotExist
	}
	return scanRevision(rows)
}

func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	partial, err := json.Marshal(rev.PartialHashes)
	if err != nil {
		return err
	}
	_, err = r.tx.ExecContext(ctx, `INSERT INTO `+revisionsTable+` (`+revisionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (version) DO UPDATE SET description = excluded.description, type = excluded.type,
			applied = excluded.applied, total = excluded.total, executed_at = excluded.executed_at,
			execution_time = excluded.execution_time, error = excluded.error, error_stmt = excluded.error_stmt,
			hash = excluded.hash, partial_hashes = excluded.partial_hashes, operator_version = excluded.operator_version`,
		rev.Version, rev.Description, int(rev.Type), rev.Applied, rev.Total,
		rev.ExecutedAt.UTC().Format(time.RFC3339Nano), int64(rev.ExecutionTime),
		rev.Error, rev.ErrorStmt, rev.Hash, string(partial), rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("database: writing revision: %w", err)
	}
	return nil
}

func (r *revisions) DeleteRevision(ctx context.Context, v string) error {
	if _, err := r.tx.ExecContext(ctx, "DELETE FROM "+revisionsTable+" WHERE version = $1", v); err != nil {
		return fmt.Errorf("database: deleting revision: %w", err)
	}
	return nil
}

func scanRevision(rows *sql.Rows) (*migrate.Revision, error) {
	var (
		rev        migrate.Revision
		typ        int
		executedAt string
		execTime   int64
		partial    string
	)
	if err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &executedAt, &execTime,
		&rev.Error, &rev.ErrorStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
		return nil, fmt.Errorf("database: reading revision: %w", err)
	}
	rev.Type = migrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execTime)
	rev.ExecutedAt, _ = time.Parse(time.RFC3339Nano, executedAt)
	if err := json.Unmarshal([]byte(partial), &rev.PartialHashes); err != nil {
		return nil, fmt.Errorf("database: reading revision %s: %w", rev.Version, err)
	}
	return &rev, nil
}

// versionLog collects the versions the executor applies.
type versionLog struct{ applied *[]string }

func (l *versionLog) Log(e migrate.LogEntry) {
	if f, ok := e.(migrate.LogFile); ok {
		*l.applied = append(*l.applied, f.File.Version())
	}
}

// applier is the part of a migrate.Driver that Atlas's executor uses to
// apply migration files: it runs their statements in the migration
// transaction, split as Atlas's driver for the dialect splits them. Atlas's
// dialect packages, which inspect and diff schemas (and bring an HCL
// interpreter and MySQL's along), stay out of the server; diff.go uses them.
type applier struct {
	// The executor calls none of the Driver's other methods on the path
	// Migrate takes (ExecuteN with revisions in our own table).
	migrate.Driver
	tx   *sql.Tx
	scan migrate.ScannerOptions
}

func newApplier(tx *sql.Tx, d string) *applier {
	a := &applier{tx: tx, scan: migrate.ScannerOptions{MatchBegin: true}}
	if d == dialect.Postgres {
		// As ariga.io/atlas/sql/postgres scans.
		a.scan = migrate.ScannerOptions{MatchBegin: true, MatchBeginAtomic: true, MatchDollarQuote: true, EscapedStringExt: true}
	}
	return a
}

func (a *applier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return a.tx.ExecContext(ctx, query, args...)
}

func (a *applier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return a.tx.QueryContext(ctx, query, args...)
}

// ScanStmts implements migrate.StmtScanner.
func (a *applier) ScanStmts(input string) ([]*migrate.Stmt, error) {
	return (&migrate.Scanner{ScannerOptions: a.scan}).Scan(input)
}

// CheckClean implements migrate.CleanChecker. The executor asks only when
// the database has no revisions, and Migrate then always passes a baseline
// (a database from before versioning) or allows a dirty start (ours is the
// revisions table), so the answer would not change what happens.
func (a *applier) CheckClean(context.Context, *migrate.TableIdent) error { return nil }
