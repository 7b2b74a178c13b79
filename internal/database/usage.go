package database

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/filegraph/filegraph/ent"
)

// Usages changes each user's usage row (ent/schema/usage.go), in the
// caller's transaction, by one statement that PostgreSQL and SQLite both
// run: an upsert that adds to the row, so that no row is read first and
// the row is locked only from there to the commit. The rules
// (files.Service) decide what to add and within which bounds.
type Usages struct {
	reserve atomic.Pointer[reserveStatement]
}

// reserveStatement is addUsage refused past one pair of bounds, written
// once: the bounds are the same for every call of a server, and as
// literals they cost no parameters to bind.
type reserveStatement struct {
	maxPending, quota int64
	query             string
}

const addUsage = `INSERT INTO usages (owner, pending_count, pending_bytes, saved_count, saved_bytes)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (owner) DO UPDATE SET
		pending_count = usages.pending_count + excluded.pending_count,
		pending_bytes = usages.pending_bytes + excluded.pending_bytes,
		saved_count = usages.saved_count + excluded.saved_count,
		saved_bytes = usages.saved_bytes + excluded.saved_bytes`

// Add adds d's counts and bytes to the row of user d.ID, creating it at
// need, whatever the totals come to: for what leaves (saves, sweeps,
// deletes), which no limit holds back.
func (*Usages) Add(ctx context.Context, tx *ent.Tx, d ent.Usage) error {
	_, err := tx.ExecContext(ctx, addUsage, d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes)
	return err
}

// Reserve adds d as Add does if the row then holds at most maxPending
// pending uploads, and at most quota bytes saved and pending together (0:
// no bound), and reports whether it did. A row it creates is not checked:
// the caller checks what it adds on its own.
func (u *Usages) Reserve(ctx context.Context, tx *ent.Tx, d ent.Usage, maxPending, quota int64) (bool, error) {
	res, err := tx.ExecContext(ctx, u.reserveQuery(maxPending, quota), d.ID, d.PendingCount, d.PendingBytes, d.SavedCount, d.SavedBytes)
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
