package database

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/job"
)

// Jobs (files.JobQueue) hands out due jobs.
//
// On PostgreSQL every replica claims from the same table: the due rows are
// locked FOR UPDATE SKIP LOCKED, so two replicas claiming at once take
// different jobs, never wait for each other, and never both take one. On
// SQLite there is one process, and its writers take turns (writeQueue):
// the select and the update are one transaction.
type Jobs struct {
	db *DB
}

// Jobs returns the database's job queue.
func (db *DB) Jobs() *Jobs { return &Jobs{db: db} }

// claimJobsPostgres moves the next attempt of up to $3 jobs due at $1 to $2,
// counting the attempt; the oldest due first.
const claimJobsPostgres = `UPDATE jobs SET attempts = attempts + 1, next_attempt_at = $2
WHERE id IN (SELECT id FROM jobs WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING id`

// Claim implements files.JobQueue.
func (q *Jobs) Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*ent.Job, error) {
	var ids []int64
	if q.db.Dialect == dialect.Postgres {
		rows, err := q.db.Ent.QueryContext(ctx, claimJobsPostgres, now, now.Add(lease), max)
		if err != nil {
			return nil, fmt.Errorf("claiming jobs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, fmt.Errorf("claiming jobs: %w", mark(err))
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("claiming jobs: %w", mark(err))
		}
	} else {
		tx, err := q.db.Ent.Tx(ctx)
		if err != nil {
			return nil, fmt.Errorf("claiming jobs: %w", err)
		}
		ids, err = tx.Job.Query().Where(job.NextAttemptAtLTE(now)).Order(job.ByNextAttemptAt()).Limit(max).IDs(ctx)
		if err == nil && len(ids) > 0 {
			err = tx.Job.Update().Where(job.IDIn(ids...)).AddAttempts(1).SetNextAttemptAt(now.Add(lease)).Exec(ctx)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			return nil, fmt.Errorf("claiming jobs: %w", err)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	jobs, err := q.db.Ent.Job.Query().Where(job.IDIn(ids...)).Order(job.ByNextAttemptAt(), job.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading claimed jobs: %w", err)
	}
	return jobs, nil
}
