package database

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
)

// Usages changes each user's usage row (ent/schema/usage.go), in the
// caller's transaction, by one statement that PostgreSQL and SQLite both
// run: an upsert that adds to the row, so that no row is read first and
// the row is locked only from there to the commit. The rules
// (files.Service) decide what to add and within which bounds.
type Usages struct {
	reserve atomic.Pointer[reserveStatement]
	// For Issue: the client and its driver, whether it is PostgreSQL, and
	// a client that records statements.
	client   *ent.Client
	drv      dialect.Driver
	postgres bool
	recorder *ent.Client
}

func newUsages(client *ent.Client, drv dialect.Driver, name string) *Usages {
	return &Usages{client: client, drv: drv, postgres: name == dialect.Postgres,
		recorder: ent.NewClient(ent.Driver(recorder{dialect: name}))}
}

// reserveStatement is addUsage refused past one pair of bounds, written
// once: the bounds are the same for every call of a server, and as
// literals they cost no parameters to bind.
type reserveStatement struct {
	maxPending, quota int64
	query             string
}

const addUsage = `INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes, file_writes)
	VALUES ($1, $2, $3, $4, $5, $6)` + usageOnConflict

const usageOnConflict = `
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = usages.pending_count + excluded.pending_count,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes,
		file_writes = usages.file_writes + excluded.file_writes`

// Add adds d's counts and bytes to the row of user d.ID, creating it at
// need, whatever the totals come to: for what leaves (saves, sweeps,
// deletes), which no limit holds back.
func (*Usages) Add(ctx context.Context, tx *ent.Tx, d ent.Usage) error {
	_, err := tx.ExecContext(ctx, addUsage, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes, d.FileWrites)
	return err
}

// Reserve adds d as Add does if the row then holds at most maxPending
// pending uploads, and at most quota bytes saved and pending together (0:
// no bound), and reports whether it did. A row it creates is not checked:
// the caller checks what it adds on its own.
func (u *Usages) Reserve(ctx context.Context, tx *ent.Tx, d ent.Usage, maxPending, quota int64) (bool, error) {
	res, err := tx.ExecContext(ctx, u.reserveQuery(maxPending, quota), d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes, d.FileWrites)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, mark(err)
}

func (u *Usages) reserveQuery(maxPending, quota int64) string {
	if st := u.reserve.Load(); st != nil && st.maxPending == maxPending && st.quota == quota {
		return st.query
	}
	var conds []string
	if maxPending > 0 {
		conds = append(conds, fmt.Sprintf("usages.pending_count + excluded.pending_count <= %d", maxPending))
	}
	if quota > 0 {
		conds = append(conds, fmt.Sprintf("usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= %d", quota))
	}
	query := addUsage
	if len(conds) > 0 {
		query += "\n\tWHERE " + strings.Join(conds, " AND ")
	}
	u.reserve.Store(&reserveStatement{maxPending, quota, query})
	return query
}

// Issue writes what insert writes and reserves d as Reserve does, all or
// nothing, and reports whether the reservation fit (nothing is written if
// not). On PostgreSQL it is one statement, sent once and committed on its
// own: the user's row is locked for that statement and its commit, and a
// user's concurrent calls queue for no round trip. ent still builds the
// insert (its defaults and checks run): insert runs on a client that
// records the statement instead of sending it, and Issue sends it as a
// CTE of the reservation. A reservation that does not fit sets the row's
// pending_count to NULL, which its NOT NULL refuses, so the statement and
// its insert fail together. On SQLite, whose writers queue anyway, it is
// the two statements in a transaction.
func (u *Usages) Issue(ctx context.Context, insert func(context.Context, *ent.Client) error, d ent.Usage, maxPending, quota int64) (bool, error) {
	if !u.postgres {
		return u.issueInTx(ctx, insert, d, maxPending, quota)
	}
	rec := &recorded{}
	if err := insert(context.WithValue(ctx, recordKey{}, rec), u.recorder); err != nil {
		return false, err
	}
	if rec.query == "" || rec.more {
		return false, fmt.Errorf("database: Issue's insert sent %d statements, not one", rec.n)
	}
	n := len(rec.args)
	args := append(rec.args, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes)
	query := "WITH inserted AS (" + rec.query + ")\n" + u.issueQuery(maxPending, quota, n)
	var res stdsql.Result
	err := u.drv.Exec(ctx, query, args, &res)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23502" && pqErr.Table == "usages" && pqErr.Column == "pending_count" {
		return false, nil // the reservation did not fit
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

func (u *Usages) issueInTx(ctx context.Context, insert func(context.Context, *ent.Client) error, d ent.Usage, maxPending, quota int64) (ok bool, err error) {
	tx, err := u.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || !ok {
			tx.Rollback()
		}
	}()
	if err := insert(ctx, tx.Client()); err != nil {
		return false, err
	}
	if ok, err = u.Reserve(ctx, tx, d, maxPending, quota); err != nil || !ok {
		return false, err
	}
	return true, tx.Commit()
}

// issueQuery is the reservation for Issue, its parameters numbered from
// after the insert's n.
func (u *Usages) issueQuery(maxPending, quota int64, n int) string {
	var conds []string
	if maxPending > 0 {
		conds = append(conds, fmt.Sprintf("usages.pending_count + excluded.pending_count <= %d", maxPending))
	}
	if quota > 0 {
		conds = append(conds, fmt.Sprintf("usages.saved_bytes + usages.pending_bytes + excluded.pending_bytes <= %d", quota))
	}
	count := "usages.pending_count + excluded.pending_count"
	if len(conds) > 0 {
		count = "CASE WHEN " + strings.Join(conds, " AND ") + " THEN " + count + " END"
	}
	return fmt.Sprintf(`INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes)
	VALUES ($%d, $%d, $%d, $%d, $%d)
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = %s,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes`, n+1, n+2, n+3, n+4, n+5, count)
}

type recordKey struct{}

// recorded is the statement an Insert made.
type recorded struct {
	query string
	args  []any
	n     int
	more  bool
}

// recorder is a driver that keeps the statement of the recorded in its
// context instead of sending it; a query is answered with no rows (ent
// then keeps the ids it made).
type recorder struct{ dialect string }

func (r recorder) record(ctx context.Context, query string, args any) error {
	rec, ok := ctx.Value(recordKey{}).(*recorded)
	a, isArgs := args.([]any)
	if !ok || !isArgs {
		return errors.New("database: a statement outside Issue's insert")
	}
	rec.n++
	rec.more = rec.query != ""
	rec.query, rec.args = query, a
	return nil
}

func (r recorder) Exec(ctx context.Context, query string, args, v any) error {
	if err := r.record(ctx, query, args); err != nil {
		return err
	}
	if res, ok := v.(*stdsql.Result); ok {
		*res = driver.RowsAffected(0)
	}
	return nil
}

func (r recorder) Query(ctx context.Context, query string, args, v any) error {
	if err := r.record(ctx, query, args); err != nil {
		return err
	}
	rows, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("database: recorder cannot answer a %T", v)
	}
	*rows = entsql.Rows{ColumnScanner: noRows{}}
	return nil
}

func (r recorder) Tx(context.Context) (dialect.Tx, error) {
	return nil, errors.New("database: Issue's insert needs a transaction")
}
func (recorder) Close() error      { return nil }
func (r recorder) Dialect() string { return r.dialect }

// noRows is an empty result.
type noRows struct{}

func (noRows) Close() error                               { return nil }
func (noRows) ColumnTypes() ([]*stdsql.ColumnType, error) { return nil, nil }
func (noRows) Columns() ([]string, error)                 { return nil, nil }
func (noRows) Err() error                                 { return nil }
func (noRows) Next() bool                                 { return false }
func (noRows) NextResultSet() bool                        { return false }
func (noRows) Scan(...any) error                          { return errors.New("no rows") }
