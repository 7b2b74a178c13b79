// Package events carries the outbox's events (ent/schema/event.go) to
// where they go: the GraphQL subscriptions of this process (Hub) and
// webhook receivers.
//
// Every replica reads the same table. A replica is woken when a
// transaction that wrote events commits (in this process: the outbox's
// Committed; in another: PostgreSQL's NOTIFY, through database.Listen) and
// also reads on a timer, since a NOTIFY can be lost. Whatever woke it, it
// reads everything committed since its previous read (Source), so a lost
// wake only delays an event, and none is read twice or skipped
// (database.Outbox says how, on PostgreSQL where numbers are not taken in
// commit order). While no one subscribes it reads nothing; the next
// subscriber starts it again from the outbox's end.
//
// A subscriber gets its events through a bounded buffer. One that does not
// keep up is dropped, never buffered without bound: it reconnects and
// lists to catch up.
package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
)

// Event is one event as subscribers get it.
type Event struct {
	Seq        int64
	ID         uuid.UUID
	Type       string
	FileID     uuid.UUID
	Owner      string
	Collection string
	At         time.Time
	// Read is when this process read it from the outbox.
	Read time.Time
}

// Filter says which events a subscriber gets.
type Filter struct {
	Owner      string // "" with All: everyone's
	All        bool   // an admin's subscription
	Collection string // "": every collection
}

func (f Filter) match(e *Event) bool {
	return (f.All || e.Owner == f.Owner) && (f.Collection == "" || e.Collection == f.Collection)
}

// Limits bound subscriptions.
type Limits struct {
	Max        int // in this process (MAX_SUBSCRIPTIONS)
	MaxPerUser int // of one user in this process
	Buffer     int // events a subscriber may fall behind by before it is dropped
}

// ErrTooMany refuses a subscription past Limits; Limit names the setting.
type ErrTooMany struct{ Limit string }

func (e *ErrTooMany) Error() string {
	if e.Limit == "MAX_SUBSCRIPTIONS" {
		return "this server has as many subscriptions as it takes; try again later or another server"
	}
	return "you have as many subscriptions open as one user may; close one first"
}

// ErrDropped ends a subscription that fell behind by more than its buffer.
var ErrDropped = errors.New("events: the subscriber fell behind and was dropped; subscribe again and list to catch up")

// ErrClosed ends subscriptions when the server shuts down.
var ErrClosed = errors.New("events: the server is shutting down; subscribe again")

// ErrUnavailable refuses a subscription when the outbox cannot be read.
var ErrUnavailable = errors.New("events: the outbox cannot be read now; subscribe again later")

// Observer hears what the hub does, for metrics; nil methods are not
// called. It must return quickly.
type Observer interface {
	Subscribers(n int)
	Dropped()
	Delivered(commitToRead time.Duration)
}

// Source reads the outbox (internal/database's EventReader): each call of
// Next returns, by number, at most n of the events committed since the
// previous read, each once, fewer than n when that read is complete; the
// first call returns none and marks where reading starts. After an error
// the next call reads the same again. Skip marks where reading starts
// anew: the next read returns what commits after Skip, reading nothing
// before it.
type Source interface {
	Next(ctx context.Context, n int) ([]*ent.Event, error)
	Skip(ctx context.Context) error
}

// Hub reads new events and hands each to the subscribers it concerns.
type Hub struct {
	src    Source
	limits Limits
	log    *slog.Logger
	obs    Observer
	wake   chan struct{}

	// readMu has one reader of src at a time: Run, or the Subscribe that
	// ends an idle spell. idle (under readMu): src is behind, as reads
	// are skipped while no one subscribes; the next subscriber skips it
	// to the end first. Without this, every commit of every replica had
	// this one read the outbox for no one (a third of deleteFile's rate
	// under load).
	readMu sync.Mutex
	idle   bool

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	perUser map[string]int
	closed  bool
}

// NewHub returns a hub over src's events; Run starts it.
func NewHub(src Source, limits Limits, obs Observer, log *slog.Logger) *Hub {
	if limits.Buffer <= 0 {
		// More than one read of the outbox (readBatch) and far more than
		// one saveFiles writes: a burst alone never drops a subscriber
		// that reads. A slot is a pointer to an event all subscribers
		// share: 8 KB a subscriber.
		limits.Buffer = 1024
	}
	return &Hub{src: src, limits: limits, log: log, obs: obs, wake: make(chan struct{}, 1), idle: true,
		subs: map[*Subscription]struct{}{}, perUser: map[string]int{}}
}

// Wake has the hub read the outbox now; it never blocks.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// readBatch bounds the events one query reads.
const readBatch = 500

// Run reads the outbox, on every wake and every poll, while someone
// subscribes, until ctx ends; then it closes every subscription.
func (h *Hub) Run(ctx context.Context, poll time.Duration) {
	defer h.close()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C:
		}
		h.read(ctx)
	}
}

// read hands the subscribers what committed since the last read; with no
// subscribers it reads nothing and leaves the hub idle.
func (h *Hub) read(ctx context.Context) {
	h.readMu.Lock()
	defer h.readMu.Unlock()
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	if n == 0 {
		h.idle = true
		return
	}
	for {
		evs, err := h.src.Next(ctx, readBatch)
		if err != nil {
			if ctx.Err() == nil {
				h.log.WarnContext(ctx, "events.read_failed", "err", err)
			}
			return
		}
		now := time.Now()
		for _, e := range evs {
			h.publish(&Event{Seq: e.ID, ID: e.PublicID, Type: e.Type, FileID: e.FileID, Owner: e.Owner,
				Collection: e.Collection, At: e.CreatedAt, Read: now})
		}
		if len(evs) < readBatch {
			return
		}
	}
}

// publish hands e to each subscriber it concerns, dropping those whose
// buffer is full.
func (h *Hub) publish(e *Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.filter.match(e) {
			continue
		}
		select {
		case s.c <- e:
			if h.obs != nil {
				h.obs.Delivered(e.Read.Sub(e.At))
			}
		default:
			h.removeLocked(s, ErrDropped)
			if h.obs != nil {
				h.obs.Dropped()
			}
			h.log.Info("events.subscriber_dropped", "user", s.filter.Owner, "buffer", h.limits.Buffer)
		}
	}
}

// Subscription is one subscriber's events. C is closed when the
// subscription ends; Err then says why (nil: Close was called).
type Subscription struct {
	C      <-chan *Event
	c      chan *Event
	hub    *Hub
	filter Filter
	err    error
}

// Err says why C was closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, nil)
}

// Subscribe starts a subscription to the events f lets through, within
// the hub's limits: it gets what commits from now on.
func (h *Hub) Subscribe(ctx context.Context, f Filter) (*Subscription, error) {
	h.readMu.Lock()
	defer h.readMu.Unlock()
	if h.idle {
		if err := h.src.Skip(ctx); err != nil {
			h.log.WarnContext(ctx, "events.read_failed", "err", err)
			return nil, ErrUnavailable
		}
		h.idle = false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, ErrClosed
	case h.limits.Max > 0 && len(h.subs) >= h.limits.Max:
		return nil, &ErrTooMany{Limit: "MAX_SUBSCRIPTIONS"}
	case h.limits.MaxPerUser > 0 && h.perUser[f.Owner] >= h.limits.MaxPerUser:
		return nil, &ErrTooMany{Limit: "MAX_SUBSCRIPTIONS_PER_USER"}
	}
	c := make(chan *Event, h.limits.Buffer)
	s := &Subscription{C: c, c: c, hub: h, filter: f}
	h.subs[s] = struct{}{}
	h.perUser[f.Owner]++
	if h.obs != nil {
		h.obs.Subscribers(len(h.subs))
	}
	return s, nil
}

func (h *Hub) removeLocked(s *Subscription, why error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.perUser[s.filter.Owner]--; h.perUser[s.filter.Owner] <= 0 {
		delete(h.perUser, s.filter.Owner)
	}
	s.err = why
	close(s.c)
	if h.obs != nil {
		h.obs.Subscribers(len(h.subs))
	}
}

// close ends every subscription with ErrClosed and refuses new ones.
func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.removeLocked(s, ErrClosed)
	}
}
