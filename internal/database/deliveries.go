package database

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"time"

	"github.com/filegraph/filegraph/ent"
)

// Deliveries claims webhook deliveries (ent/schema/event.go) for one
// sender among the replicas.
//
// A claim is a short transaction: it takes due deliveries and moves their
// next_attempt_at to until (past the try's end), then commits, and the
// sender tries them with no transaction open. A sender killed mid-try
// leaves them to whichever replica claims them once until has passed.
// On PostgreSQL, FOR UPDATE SKIP LOCKED lets replicas claim side by side
// without waiting for or taking each other's rows; on SQLite there is one
// process, and its claims take turns in the write queue.
type Deliveries struct {
	postgres bool
}

// claimDeliveries takes the oldest due deliveries to one URL whose file has
// no earlier delivery to that URL still pending: a receiver gets each
// file's events in order. A file's events are numbered in the order of
// its commits (Outbox: each writer has its file's row locked first), so a
// snapshot that sees a delivery sees every earlier one of its file.
const claimDeliveries = `UPDATE deliveries SET next_attempt_at = $1, attempts = attempts + 1
	WHERE id IN (
		SELECT d.id FROM deliveries d
		WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND d.url = $3
			AND NOT EXISTS (
				SELECT 1 FROM deliveries e
				WHERE e.file_id = d.file_id AND e.url = d.url AND e.event_id < d.event_id AND e.status = 'pending')
		ORDER BY d.next_attempt_at
		LIMIT $4%s)
	RETURNING id`

var (
	claimSQLite   = fmt.Sprintf(claimDeliveries, "")
	claimPostgres = fmt.Sprintf(claimDeliveries, "\n\t\tFOR UPDATE OF d SKIP LOCKED")
)

// Claim takes up to n deliveries to url that are due at now, until until,
// counting a try for each, and returns their ids.
func (d *Deliveries) Claim(ctx context.Context, client *ent.Client, url string, now, until time.Time, n int) ([]int, error) {
	// One statement is its own transaction on PostgreSQL; on SQLite it
	// goes in one, which takes the write queue's turn.
	type querier interface {
		QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error)
	}
	var (
		q     querier = client
		query         = claimPostgres
		tx    *ent.Tx
	)
	if !d.postgres {
		var err error
		if tx, err = client.Tx(ctx); err != nil {
			return nil, err
		}
		defer tx.Rollback()
		q, query = tx, claimSQLite
	}
	rows, err := q.QueryContext(ctx, query, until.UTC(), now.UTC(), url, n)
	if err != nil {
		return nil, mark(err)
	}
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, mark(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return nil, mark(err)
	}
	if err := rows.Err(); err != nil {
		return nil, mark(err)
	}
	if tx != nil {
		return ids, mark(tx.Commit())
	}
	return ids, nil
}
