package database

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/filegraph/filegraph/ent"
)

// eventsChannel is the channel NOTIFY wakes replicas on; the payload is
// empty: a woken replica reads the events table from the last event it saw.
const eventsChannel = "filegraph_events"

// eventsLock is the key of the transaction-level advisory lock that
// writers of events take, the same in every replica ("filegraph.events"
// as eight bytes).
const eventsLock int64 = 0x66677265766e7473

// Outbox (files.Outbox) orders the transactions that write events.
//
// On PostgreSQL, a sequence hands out numbers in the order transactions
// ask, not the order they commit: a reader that saw 6 committed while 5
// was still open would pass 5 for ever. So a writer takes an advisory lock
// right before its events, held to its commit (which makes it visible
// before the lock is let go): numbers then follow commits, and the only
// cost is that the last step of concurrent saves (the insert and the
// commit) takes turns. Its NOTIFY is sent by PostgreSQL at commit, or not
// at all. On SQLite writers already take turns (writeQueue), and readers
// are in this process: Committed wakes them.
type Outbox struct {
	postgres bool
	mu       sync.Mutex
	wake     []func()
}

// Lock is called in tx right before it writes events.
func (o *Outbox) Lock(ctx context.Context, tx *ent.Tx) error {
	if !o.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1), pg_notify($2, '')`, eventsLock, eventsChannel)
	return mark(err)
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
	if err := l.Listen(eventsChannel); err != nil {
		// The listener keeps trying and listens once it connects.
		log.Warn("events.listen_failed", "err", err)
	}
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
