package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"strings"

	"github.com/lib/pq"
)

// Prepared statements (DATABASE_PREPARE). ent sends each statement as
// text, and PostgreSQL parses and analyses it again on every call: on a
// small machine that is a good part of what a download costs the
// database. A connection of preparingDriver prepares a statement the
// second time it is sent on that connection (a statement sent once, such
// as an IN list of an unusual length, is never prepared) and then runs it
// by name: one round trip, as before, with no parsing. Plans are still
// made for each call's values (plan_cache_mode=force_custom_plan, unless
// the URL says otherwise), as for a statement sent as text: a generic plan
// would not use the folder index for LIKE 'a/%' prefixes. Named prepared
// statements need a session of their own: a pooler in transaction mode
// (PgBouncer before 1.21, or without max_prepared_statements) hands each
// transaction another server connection, so DATABASE_PREPARE=false there.

// preparedDriverName is lib/pq registered under preparingDriver.
const preparedDriverName = "postgres+prepare"

// maxPrepared bounds the statements a connection keeps prepared; a
// statement past it runs as text. ent's statements differ only by their
// lists' lengths, so the hot ones are far fewer.
const maxPrepared = 128

// maxSeen bounds the statements a connection remembers having seen once;
// past it the memory starts over.
const maxSeen = 1024

func init() { sql.Register(preparedDriverName, preparingDriver{}) }

// preparingDriver is lib/pq whose connections prepare what they are sent
// again (see above).
type preparingDriver struct{ pq.Driver }

func (d preparingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	inner, ok := c.(pqConn)
	if !ok {
		c.Close()
		return nil, errors.New("database: lib/pq's connection lacks a method DATABASE_PREPARE needs")
	}
	return &preparingConn{pqConn: inner, stmts: map[string]driver.Stmt{}, seen: map[string]struct{}{}}, nil
}

// pqConn is what database/sql uses of lib/pq's connection.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// preparingConn is one connection and its statements. database/sql uses
// a connection from one goroutine at a time, so the maps need no lock.
type preparingConn struct {
	pqConn
	stmts map[string]driver.Stmt
	seen  map[string]struct{}
}

var _ pqConn = (*preparingConn)(nil)

// stmt returns query's prepared statement, preparing it if it was sent
// before; nil means: send it as text.
func (c *preparingConn) stmt(ctx context.Context, query string, args int) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	// Only statements with parameters: a text of several statements (a
	// migration) cannot be prepared, and has none.
	if args == 0 || len(c.stmts) >= maxPrepared {
		return nil, nil
	}
	if _, again := c.seen[query]; !again {
		if len(c.seen) >= maxSeen {
			clear(c.seen)
		}
		c.seen[query] = struct{}{}
		return nil, nil
	}
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	delete(c.seen, query)
	c.stmts[query] = st
	return st, nil
}

// forget drops query's statement after err, if err says the server no
// longer has it as it was (a pooler's other session, DISCARD ALL, or a
// schema change that altered its result): the next call prepares it anew.
func (c *preparingConn) forget(query string, err error) {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == "26000" || pqErr.Code == "0A000") {
		delete(c.stmts, query)
	}
}

func (c *preparingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.forget(query, err)
	}
	return rows, err
}

func (c *preparingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		c.forget(query, err)
	}
	return res, err
}

// customPlans sets plan_cache_mode=force_custom_plan on a URL that does
// not set it (lib/pq sends an unknown parameter to the server as a setting
// of the session).
func customPlans(databaseURL string) string {
	if strings.Contains(databaseURL, "plan_cache_mode") {
		return databaseURL
	}
	if u, err := url.Parse(databaseURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("plan_cache_mode", "force_custom_plan")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return databaseURL + " plan_cache_mode=force_custom_plan"
}
