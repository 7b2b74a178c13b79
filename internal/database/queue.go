package database

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
)

// writeQueue lets one SQLite writer at a time in, in arrival order, and
// makes the others wait in Go within their request's deadline. SQLite has
// one write lock per file; left to busy_timeout, waiting writers retry in
// no order and the unlucky ones fail with SQLITE_BUSY however long they
// were willing to wait. Readers do not queue: WAL lets them run beside
// the writer.
type writeQueue struct {
	marked
	slot chan struct{} // a buffered channel of one: waiting senders are served first come, first served
}

var (
	_ dialect.Driver = (*writeQueue)(nil)
	_ dialect.Tx     = (*queuedTx)(nil)
)

func newWriteQueue(drv marked) *writeQueue {
	return &writeQueue{marked: drv, slot: make(chan struct{}, 1)}
}

// acquire waits for the write slot until ctx ends; the error then says the
// database was busy, which callers report as unavailable.
func (q *writeQueue) acquire(ctx context.Context) (release func(), err error) {
	select {
	case q.slot <- struct{}{}:
	default:
		select {
		case q.slot <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("database: waiting for the write lock: %w: %w", ErrBusy, context.Cause(ctx))
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-q.slot }) }, nil
}

// writes reports whether a statement outside a transaction may write:
// everything but a plain SELECT takes the write slot.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) < 6 || !strings.EqualFold(q[:6], "SELECT")
}

func (q *writeQueue) Exec(ctx context.Context, query string, args, v any) error {
	if !writes(query) {
		return q.marked.Exec(ctx, query, args, v)
	}
	release, err := q.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return q.marked.Exec(ctx, query, args, v)
}

func (q *writeQueue) Query(ctx context.Context, query string, args, v any) error {
	if !writes(query) {
		return q.marked.Query(ctx, query, args, v)
	}
	release, err := q.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return q.marked.Query(ctx, query, args, v)
}

// Tx and BeginTx hold the write slot from BEGIN (IMMEDIATE: it takes the
// file's write lock) to commit or rollback. Should neither come, the end of
// ctx frees the slot: database/sql rolls such a transaction back then too.
func (q *writeQueue) Tx(ctx context.Context) (dialect.Tx, error) { return q.BeginTx(ctx, nil) }

func (q *writeQueue) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	release, err := q.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := q.marked.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	stop := context.AfterFunc(ctx, release)
	return &queuedTx{Tx: tx, release: func() { stop(); release() }}, nil
}

// queuedTx frees the write slot when the transaction ends.
type queuedTx struct {
	dialect.Tx
	release func()
}

func (t *queuedTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

func (t *queuedTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

// ExecContext and QueryContext keep what ent's generated Tx reaches for
// (raw statements inside a transaction) working through the wrapper.
func (t *queuedTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: Tx.ExecContext is not supported")
	}
	return ex.ExecContext(ctx, query, args...)
}

func (t *queuedTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	qu, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: Tx.QueryContext is not supported")
	}
	return qu.QueryContext(ctx, query, args...)
}
