package database

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// mark returns err marked ErrBusy or ErrUnavailable when classify says it
// is of that kind, and err as it is otherwise.
func mark(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if k := classify(err); k != nil {
		return fmt.Errorf("%w: %w", k, err)
	}
	return err
}

// marked is ent's driver with every error marked as it leaves: the
// statements' own, a transaction's begin and commit, and a result's rows.
// Its wrappers hold a single pointer, so wrapping allocates nothing.
type marked struct{ *entsql.Driver }

var (
	_ dialect.Driver = marked{}
	_ dialect.Tx     = markedTx{}
)

func (d marked) Exec(ctx context.Context, query string, args, v any) error {
	return mark(d.Driver.Exec(ctx, query, args, v))
}

func (d marked) Query(ctx context.Context, query string, args, v any) error {
	if err := d.Driver.Query(ctx, query, args, v); err != nil {
		return mark(err)
	}
	markRows(v)
	return nil
}

func (d marked) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

func (d marked) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		return nil, mark(err)
	}
	return markedTx{tx.(*entsql.Tx)}, nil
}

// ExecContext and QueryContext are ent's raw statements (its execquery
// feature) on the client.
func (d marked) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	res, err := d.Driver.ExecContext(ctx, query, args...)
	return res, mark(err)
}

func (d marked) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	rows, err := d.Driver.QueryContext(ctx, query, args...)
	return rows, mark(err)
}

// markedTx is a transaction of marked.
type markedTx struct{ *entsql.Tx }

func (t markedTx) Exec(ctx context.Context, query string, args, v any) error {
	return mark(t.Tx.Exec(ctx, query, args, v))
}

func (t markedTx) Query(ctx context.Context, query string, args, v any) error {
	if err := t.Tx.Query(ctx, query, args, v); err != nil {
		return mark(err)
	}
	markRows(v)
	return nil
}

func (t markedTx) Commit() error   { return mark(t.Tx.Commit()) }
func (t markedTx) Rollback() error { return mark(t.Tx.Rollback()) }

func (t markedTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	res, err := t.Tx.ExecContext(ctx, query, args...)
	return res, mark(err)
}

func (t markedTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	rows, err := t.Tx.QueryContext(ctx, query, args...)
	return rows, mark(err)
}

// markRows has the rows a query filled in v mark what reading them
// returns: a connection lost, or the deadline passed, halfway through.
func markRows(v any) {
	if rows, ok := v.(*entsql.Rows); ok {
		if r, ok := rows.ColumnScanner.(*stdsql.Rows); ok {
			rows.ColumnScanner = markedRows{r}
		}
	}
}

// markedRows is rows of marked.
type markedRows struct{ *stdsql.Rows }

func (r markedRows) Err() error             { return mark(r.Rows.Err()) }
func (r markedRows) Scan(dest ...any) error { return mark(r.Rows.Scan(dest...)) }
func (r markedRows) Close() error           { return mark(r.Rows.Close()) }
