package database

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
)

// EventReader reads the events that committed since its previous read,
// for one reader in this process (the events hub); it is not safe for
// concurrent use. Why it reads by snapshot on PostgreSQL: Outbox.
type EventReader struct {
	db       *DB
	postgres bool
	started  bool

	// SQLite: numbers follow commits, and the reader goes on from the
	// last one it read.
	last int64

	// PostgreSQL: seen is the snapshot of the previous read, whose
	// committed transactions' events were read then or before. A read
	// paged by number (more than a page committed) goes on under round,
	// the snapshot of its first page, after the number after.
	seen  snapshot
	round *snapshot
	after int64
}

// EventReader returns a reader that reads what commits after its first
// call of Next.
func (db *DB) EventReader() *EventReader {
	return &EventReader{db: db, postgres: db.Dialect == dialect.Postgres}
}

// snapshot is a pg_snapshot: xmin:xmax:xip,... (its text form), and its
// xmax and in-progress list, with which the rows whose transactions it did
// not see as committed are found by the xid index.
type snapshot struct {
	text string
	xmax int64
	xip  []int64
}

func parseSnapshot(s string) (snapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return snapshot{}, fmt.Errorf("database: snapshot %q", s)
	}
	sn := snapshot{text: s}
	var err error
	if sn.xmax, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return snapshot{}, fmt.Errorf("database: snapshot %q: %w", s, err)
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return snapshot{}, fmt.Errorf("database: snapshot %q: %w", s, err)
			}
			sn.xip = append(sn.xip, n)
		}
	}
	return sn, nil
}

const eventColumns = `e.id, e.public_id, e.type, e.file_id, e.owner, e.collection, e.created_at`

// notSeen is true of an event whose transaction had not committed in
// snapshot $1/$2 (its xmax and in-progress list): begun after it, or
// running in it. Both parts are ranges of the xid index.
const notSeen = `(e.xid >= $1 OR e.xid = ANY($2::bigint[]))`

var (
	// The first page of a read takes the statement's own snapshot with
	// its rows (one snapshot per statement), also when there are none.
	readFirst = `WITH s AS (SELECT pg_current_snapshot()::text AS c)
SELECT s.c, ` + eventColumns + ` FROM s LEFT JOIN LATERAL (
	SELECT ` + eventColumns + ` FROM events e WHERE ` + notSeen + ` ORDER BY e.id LIMIT $3) e ON true
ORDER BY e.id`
	// A next page: the rows of the first page's snapshot, after a number.
	readNext = `SELECT '', ` + eventColumns + ` FROM events e
WHERE ` + notSeen + ` AND pg_visible_in_snapshot(e.xid::text::xid8, $4::pg_snapshot) AND e.id > $5
ORDER BY e.id LIMIT $3`
)

// Next returns, by number, at most n of the events committed since the
// previous read, each once; fewer than n when the read is complete (the
// next call reads anew). The first call only marks where reading starts.
// After an error, the next call reads the same again.
func (r *EventReader) Next(ctx context.Context, n int) ([]*ent.Event, error) {
	if !r.started {
		if err := r.start(ctx); err != nil {
			return nil, err
		}
		r.started = true
		return nil, nil
	}
	if !r.postgres {
		evs, err := r.db.Ent.Event.Query().
			Where(event.IDGT(r.last)).
			Order(ent.Asc(event.FieldID)).
			Limit(n).
			Select(event.FieldID, event.FieldPublicID, event.FieldType, event.FieldFileID, event.FieldOwner, event.FieldCollection, event.FieldCreatedAt).
			All(ctx)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			r.last = evs[len(evs)-1].ID
		}
		return evs, nil
	}
	var rows *stdsql.Rows
	var err error
	if r.round == nil {
		rows, err = r.db.SQL.QueryContext(ctx, readFirst, r.seen.xmax, pq.Array(r.seen.xip), n)
	} else {
		rows, err = r.db.SQL.QueryContext(ctx, readNext, r.seen.xmax, pq.Array(r.seen.xip), n, r.round.text, r.after)
	}
	if err != nil {
		return nil, mark(err)
	}
	defer rows.Close()
	var (
		evs  []*ent.Event
		snap string
	)
	for rows.Next() {
		var (
			s                      string
			id                     stdsql.NullInt64
			e                      ent.Event
			pid, fid               uuid.NullUUID
			typ, owner, collection stdsql.NullString
			at                     stdsql.NullTime
		)
		if err := rows.Scan(&s, &id, &pid, &typ, &fid, &owner, &collection, &at); err != nil {
			return nil, mark(err)
		}
		if s != "" {
			snap = s
		}
		if !id.Valid {
			continue // a read with no rows: its snapshot alone
		}
		e.ID, e.PublicID, e.Type, e.FileID, e.Owner, e.Collection, e.CreatedAt = id.Int64, pid.UUID, typ.String, fid.UUID, owner.String, collection.String, at.Time
		evs = append(evs, &e)
	}
	if err := rows.Close(); err != nil {
		return nil, mark(err)
	}
	if err := rows.Err(); err != nil {
		return nil, mark(err)
	}
	if r.round == nil {
		sn, err := parseSnapshot(snap)
		if err != nil {
			return nil, err
		}
		r.round = &sn
	}
	if len(evs) < n {
		// The read is complete: what its snapshot saw is read.
		r.seen, r.round, r.after = *r.round, nil, 0
	} else {
		r.after = evs[len(evs)-1].ID
	}
	return evs, nil
}

// Skip marks where reading starts anew, as the first call of Next does:
// the next read returns what commits after it. After an error, the
// reader is as it was.
func (r *EventReader) Skip(ctx context.Context) error {
	if err := r.start(ctx); err != nil {
		return err
	}
	r.started, r.round, r.after = true, nil, 0
	return nil
}

// start marks where reading starts: after the last event (SQLite), or
// after what the current snapshot sees (PostgreSQL).
func (r *EventReader) start(ctx context.Context) error {
	if !r.postgres {
		ev, err := r.db.Ent.Event.Query().Order(ent.Desc(event.FieldID)).Select(event.FieldID).First(ctx)
		switch {
		case ent.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		r.last = ev.ID
		return nil
	}
	var s string
	if err := r.db.SQL.QueryRowContext(ctx, `SELECT pg_current_snapshot()::text`).Scan(&s); err != nil {
		return mark(err)
	}
	sn, err := parseSnapshot(s)
	if err != nil {
		return err
	}
	r.seen = sn
	return nil
}
