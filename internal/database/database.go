// Package database opens the ent client on SQLite (the embedded default) or
// PostgreSQL, applies the versioned migrations in ent/migrate/migrations,
// and tells connection failures (UNAVAILABLE to clients, worth a retry) from
// everything else.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
	_ "modernc.org/sqlite" // registers "sqlite", a pure-Go driver: no cgo, no server

	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent"
)

// DB is an open database: the ent client, and the pool under it for health
// checks.
type DB struct {
	Ent     *ent.Client
	SQL     *sql.DB
	Dialect string
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the pool.
func (db *DB) Close() error { return db.Ent.Close() }

// Open connects to databaseURL (postgres://...) or, when it is empty, to a
// SQLite file in dataDir. With migrate it brings the schema up to date and
// logs what it applied; without, it refuses a database that is behind, so
// that no code runs against a schema it does not know.
func Open(ctx context.Context, databaseURL, dataDir string, migrate bool, log *slog.Logger, opts ...Option) (*DB, error) {
	o := options{open: sql.Open}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		db  *sql.DB
		drv string
		err error
	)
	if databaseURL != "" {
		drv = dialect.Postgres
		db, err = o.open("postgres", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		drv = dialect.SQLite
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		path := filepath.Join(dataDir, "filegraph.db")
		// WAL lets readers run beside the writer; busy_timeout makes a
		// writer wait for the lock instead of failing. Times are written in
		// one zone and one format, so that comparing them as text (cursor
		// pagination on createdAt) orders them; the driver's default format
		// carries Go's monotonic clock reading and does not.
		dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite&_timezone=UTC"
		db, err = o.open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
	}
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if migrate {
		applied, err := Migrate(ctx, db, drv)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(applied) > 0 {
			log.Info("database.migrated", "dialect", drv, "versions", applied)
		}
	} else {
		pending, err := Pending(ctx, db, drv)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(pending) > 0 {
			db.Close()
			return nil, fmt.Errorf("database: %d migrations not applied (%v): run `filegraph migrate` or set MIGRATE_ON_START=true", len(pending), pending)
		}
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(drv, db)))
	return &DB{Ent: client, SQL: db, Dialect: drv}, nil
}

// Option changes how Open connects.
type Option func(*options)

type options struct {
	open func(driverName, dsn string) (*sql.DB, error)
}

// OpenWith opens the pool with open instead of sql.Open: telemetry wraps
// the driver to trace each statement.
func OpenWith(open func(driverName, dsn string) (*sql.DB, error)) Option {
	return func(o *options) { o.open = open }
}

func ping(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("database: cannot connect: %w", err)
	}
	return nil
}

// IsUnavailable reports whether err means the database could not be reached
// or dropped the connection, rather than refusing the statement.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var pqErr *pq.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr):
		return true
	case errors.As(err, &pqErr):
		// Class 08: connection exceptions; 57P01-03: admin shutdown,
		// crash shutdown, cannot connect now (a restart in progress).
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" || pqErr.Code == "57P03"
	}
	return false
}
