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
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
	"modernc.org/sqlite" // registers "sqlite", a pure-Go driver: no cgo, no server
	sqlite3 "modernc.org/sqlite/lib"

	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent"
)

// DB is an open database: the ent client, the pool under it, and a
// connection of its own for health checks.
type DB struct {
	Ent     *ent.Client
	SQL     *sql.DB
	Dialect string
	// Usages changes the usage rows in an ent transaction.
	Usages *Usages
	// Outbox orders the transactions that write events.
	Outbox *Outbox
	// Deliveries claims webhook deliveries.
	Deliveries *Deliveries
	// Lookups reads files by id for the hot paths.
	Lookups *Lookups
	// Deletes marks and removes deleteFile's file (PostgreSQL; nil on
	// SQLite).
	Deletes *Deletes
	// Saves writes a save's transaction (PostgreSQL; nil on SQLite).
	Saves  *Saves
	health *sql.DB
	url    string // PostgreSQL's, for Listen
}

// Ping reports whether the database answers. It runs on a connection kept
// for it alone, so a pool that is busy serving requests does not make a
// healthy database look down.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.health.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	db.health.Close()
	return db.Ent.Close()
}

// DefaultMaxConns is DB_MAX_CONNS's default: 10 connections per replica
// leave PostgreSQL's default of 100 slots room for 8 replicas (each also
// keeps one for readiness), migrations and an operator's psql.
const DefaultMaxConns = 10

// MaxConns bounds the connections the pool opens (DB_MAX_CONNS); a request
// that finds them all busy waits for one within its deadline.
func MaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// walSizeLimit is what SQLite truncates its write-ahead log back to after
// a checkpoint; without it the log keeps the size of its busiest moment.
const walSizeLimit = 4 << 20

// Open connects to databaseURL (postgres://...) or, when it is empty, to a
// SQLite file in dataDir. With migrate it brings the schema up to date and
// logs what it applied; without, it refuses a database that is behind, so
// that no code runs against a schema it does not know.
func Open(ctx context.Context, databaseURL, dataDir string, migrate bool, log *slog.Logger, opts ...Option) (*DB, error) {
	o := options{open: sql.Open, maxConns: DefaultMaxConns}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		db, health *sql.DB
		drv        string
		err        error
	)
	if databaseURL != "" {
		drv = dialect.Postgres
		databaseURL = oneRoundTrip(databaseURL)
		driverName, dsn := "postgres", databaseURL
		if o.prepare {
			driverName, dsn = preparedDriverName, customPlans(databaseURL)
		}
		db, err = o.open(driverName, dsn)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		health, _ = sql.Open("postgres", databaseURL)
	} else {
		drv = dialect.SQLite
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		path := filepath.Join(dataDir, "filegraph.db")
		// WAL lets readers run beside the writer. Writers queue in Go
		// (writeQueue); busy_timeout only covers other processes on the
		// file (migrate, reconcile) and checkpoints. journal_size_limit
		// shrinks the log after a burst. Times are written in one zone and
		// one format, so that comparing them as text (cursor pagination on
		// createdAt) orders them; the driver's default format carries Go's
		// monotonic clock reading and does not.
		dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)" +
			"&_pragma=journal_size_limit(" + strconv.Itoa(walSizeLimit) + ")&_txlock=immediate&_time_format=sqlite&_timezone=UTC"
		db, err = o.open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		health, _ = sql.Open("sqlite", dsn)
	}
	// Bounded: each connection is a PostgreSQL slot or, on SQLite, a few
	// file descriptors. Idle ones are kept up to the bound so that a burst
	// does not reconnect, and let go after a while.
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Readiness keeps its connection open, so that it can still answer when
	// every slot the server allows is taken.
	health.SetMaxOpenConns(1)
	health.SetMaxIdleConns(1)
	if err := ping(ctx, db); err != nil {
		db.Close()
		health.Close()
		return nil, err
	}
	fail := func(err error) (*DB, error) {
		db.Close()
		health.Close()
		return nil, err
	}
	if migrate {
		applied, err := Migrate(ctx, db, drv)
		if err != nil {
			return fail(err)
		}
		if len(applied) > 0 {
			log.Info("database.migrated", "dialect", drv, "versions", applied)
		}
	} else {
		pending, err := Pending(ctx, db, drv)
		if err != nil {
			return fail(err)
		}
		if len(pending) > 0 {
			return fail(fmt.Errorf("database: %d migrations not applied (%v): run `filegraph migrate` or set MIGRATE_ON_START=true", len(pending), pending))
		}
	}
	// The health connection is opened now, while slots are free.
	if err := ping(ctx, health); err != nil {
		return fail(err)
	}
	var edrv dialect.Driver = marked{entsql.OpenDB(drv, db)}
	if drv == dialect.SQLite {
		edrv = newWriteQueue(marked{entsql.OpenDB(drv, db)})
	}
	client := ent.NewClient(ent.Driver(edrv))
	var deletes *Deletes
	var saves *Saves
	if drv == dialect.Postgres {
		deletes, saves = &Deletes{db}, &Saves{db}
	}
	return &DB{Deletes: deletes, Saves: saves, Ent: client, SQL: db, Dialect: drv, Usages: newUsages(client, edrv, drv),
		Outbox: &Outbox{postgres: drv == dialect.Postgres}, Deliveries: &Deliveries{postgres: drv == dialect.Postgres}, Lookups: &Lookups{client}, health: health, url: databaseURL}, nil
}

// Option changes how Open connects.
type Option func(*options)

type options struct {
	open     func(driverName, dsn string) (*sql.DB, error)
	maxConns int
	prepare  bool
}

// Prepare has PostgreSQL's connections prepare the statements they send
// again (DATABASE_PREPARE; prepare.go).
func Prepare(on bool) Option { return func(o *options) { o.prepare = on } }

// oneRoundTrip asks lib/pq to send a query with parameters in one round
// trip (parse, bind and execute together) rather than two (the first only
// to learn the parameters' types), unless the URL says otherwise. Every
// parameter we send is text to PostgreSQL, which infers its type from the
// statement; only []byte would go as binary, and no column is bytea.
func oneRoundTrip(databaseURL string) string {
	if strings.Contains(databaseURL, "binary_parameters") {
		return databaseURL
	}
	if u, err := url.Parse(databaseURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return databaseURL + " binary_parameters=yes" // key=value form
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

var (
	// ErrUnavailable marks an error that means the database could not be
	// reached, dropped the connection or is out of a resource (connection
	// slots, disk, memory): nothing was done and a later try may succeed.
	// Every error the ent client returns is marked at this package's
	// boundary (marked), as storage's backends mark theirs; a package that
	// does not import this one asks the error for its Unavailable method.
	ErrUnavailable error = kind("database unavailable")
	// ErrBusy is the kind of ErrUnavailable that means only busy: the
	// statement waited its deadline out for a connection or a lock, or
	// lost a race for one.
	ErrBusy = fmt.Errorf("%w: busy", ErrUnavailable)
)

// kind is the type of ErrUnavailable.
type kind string

func (k kind) Error() string { return string(k) }

// Unavailable says that a later try may succeed; errors.As finds it on
// every error marked ErrUnavailable or ErrBusy.
func (kind) Unavailable() bool { return true }

// IsUnavailable reports whether err means the database could not serve
// the statement now (ErrUnavailable), rather than refusing it: unreachable,
// out of a resource, or busy past the caller's deadline.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || classify(err) != nil
}

// classify reads every driver's codes, so that callers know no SQL dialect:
// it returns ErrBusy or ErrUnavailable for an error of those kinds, nil for
// any other (the statement's own fault, or a bug).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var netErr net.Error
	var pqErr *pq.Error
	var liteErr *sqlite.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrBusy // waited its deadline out for a connection or a lock
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOSPC),
		errors.As(err, &netErr):
		return ErrUnavailable
	case errors.As(err, &pqErr):
		switch pqErr.Code.Class() {
		case "08", "53": // connection exceptions; insufficient resources (53300 too many connections, 53100 disk full, 53200 out of memory)
			return ErrUnavailable
		}
		switch pqErr.Code {
		case "57P01", "57P02", "57P03", "57P05": // shutting down, cannot connect now, idle session timed out
			return ErrUnavailable
		case "57014", // cancelled: the request's deadline passed
			"40001", "40P01", "55P03": // lost a race: serialization failure, deadlock, lock not available
			return ErrBusy
		}
	case errors.As(err, &liteErr):
		switch liteErr.Code() & 0xff { // the primary code; the rest refines it
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrBusy
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
			return ErrUnavailable
		}
	}
	return nil
}
