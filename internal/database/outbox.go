package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
)

// eventsChannel is the channel NOTIFY wakes replicas on; the payload is
// empty: a woken replica reads the events committed since its last read.
const eventsChannel = "filegraph_events"

// Outbox (files.Outbox) stamps the transactions that write events, so
// that readers (EventReader) can tell which committed since they last
// looked, and wakes those readers.
//
// On PostgreSQL a sequence hands out event numbers in the order
// transactions ask, not the order they commit: a reader that saw 6
// committed while 5 was still open, and went on from 6, would pass 5 for
// ever. Until this design, every writer took one advisory lock before its
// events and held it to its commit, so numbers followed commits; but then
// commits took turns, each waiting for the WAL flush of the one before
// (TestEventLatency: 92-104 events/s of the 200 asked, and saveFiles and
// deleteFile under load queued on it). The designs weighed:
//
//   - An xid watermark (each event stores its transaction's id; readers
//     take the rows below pg_snapshot_xmin of their snapshot): exact, and
//     per-file order holds, but an event waits for every older
//     transaction of the whole cluster to end, whatever it does: an idle
//     session in a transaction would hold every event back.
//   - Gap detection (Marten's high-water mark: read by number, and at a
//     number not visible wait until every transaction in progress when it
//     was seen has ended, then skip it): numbers alone, but a rolled-back
//     number stalls the stream for as long as the oldest transaction of
//     the cluster, and where a reader starts, the numbers below it still
//     open cannot be known.
//   - Per-owner locks: commits of one user would still take turns, and
//     the readers still need one of the two above across users.
//
// What is done is the watermark made exact with the snapshot's whole
// list: each event stores its transaction's id (xid, pg_current_xact_id,
// which Stamp returns), and a reader keeps the snapshot of its previous
// read P. Its next read, in one statement under a new snapshot C, takes the
// rows whose transaction P did not see as committed (xid >= xmax(P) or xid
// in P's in-progress list): each committed event is in exactly one such
// read, the first whose snapshot sees it, so none is lost or read twice,
// and it is read as soon as it commits, whatever else is running. Within a
// read, rows come by number. Per-file order holds by that number: every
// transaction that writes a file's event has written the file's row
// first (saveFiles inserts it; update, scan, delete and reconcile change
// it), so a later change of the file waits for the earlier one's commit
// before taking its number; and a snapshot that sees the later commit
// sees the earlier, in the same read or one before. Webhook deliveries
// rely on the same order (Deliveries' claim) and on nothing else here.
// TestEventReaderHazard forces the case the lock prevented.
//
// Stamp writes nothing and locks nothing: concurrent writers commit side
// by side. Its NOTIFY is sent by PostgreSQL at commit, or not at all. On
// SQLite writers take turns (writeQueue), so numbers follow commits and
// readers go on from the last number they saw; readers are in this
// process, and Committed wakes them.
type Outbox struct {
	postgres bool
	mu       sync.Mutex
	wake     []func()
}

// stampSQL returns the transaction's id, assigning it now if the
// transaction has none yet, and has readers woken at commit.
const stampSQL = `SELECT pg_current_xact_id()::text::bigint, pg_notify('` + eventsChannel + `', '')`

// Stamp is called in tx right before it writes events; each event's xid
// is set to what it returns (0 on SQLite).
func (o *Outbox) Stamp(ctx context.Context, tx *ent.Tx) (int64, error) {
	if !o.postgres {
		return 0, nil
	}
	return queryXid(ctx, tx, stampSQL)
}

// queryXid runs query in tx, which returns one row whose first column is
// the transaction's id.
func queryXid(ctx context.Context, tx *ent.Tx, query string, args ...any) (int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, mark(err)
	}
	defer rows.Close()
	var xid int64
	var notified any
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, mark(err)
		}
		return 0, fmt.Errorf("database: the transaction's id was not returned")
	}
	if err := rows.Scan(&xid, &notified); err != nil {
		return 0, mark(err)
	}
	if err := rows.Close(); err != nil {
		return 0, mark(err)
	}
	return xid, mark(rows.Err())
}

// Committed wakes this process's readers.
func (o *Outbox) Committed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.wake {
		f()
	}
}

// OnCommit has wake called after each transaction of this process that
// wrote events; it must not block.
func (o *Outbox) OnCommit(wake func()) {
	o.mu.Lock()
	o.wake = append(o.wake, wake)
	o.mu.Unlock()
}

// Listen calls wake whenever another process commits events, until ctx
// ends: on PostgreSQL through LISTEN on a connection of its own (lib/pq's
// Listener, which reconnects by itself). A notification can be lost (none
// arrive while the connection is down), so wake is also called after each
// reconnection, and the caller reads the events on a timer as well. On
// SQLite there are no other processes, and Listen returns at once.
func (db *DB) Listen(ctx context.Context, wake func(), log *slog.Logger) {
	if db.Dialect != dialect.Postgres {
		return
	}
	l := pq.NewListener(db.url, time.Second, 30*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
			log.Warn("events.listen_lost", "err", err)
		case pq.ListenerEventReconnected:
			log.Info("events.listen_reconnected")
		}
	})
	defer l.Close()
	// lib/pq's Listen waits until the listener has a connection, which it
	// may never get (the database down at start): waiting here would keep
	// this goroutine past ctx's end. Closing the listener (deferred above)
	// ends that wait.
	go func() {
		if err := l.Listen(eventsChannel); err != nil && !errors.Is(err, net.ErrClosed) {
			// The listener keeps trying and listens once it connects.
			log.Warn("events.listen_failed", "err", err)
		}
	}()
	ping := time.NewTicker(time.Minute)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Notify:
			// nil after a reconnection: what was sent meanwhile is lost.
			wake()
		case <-ping.C:
			go l.Ping() // notices a dead connection sooner than TCP would
		}
	}
}
