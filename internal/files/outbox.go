package files

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/internal/auth"
)

// Event types: what an event says happened to its file.
const (
	EventSaved   = "file.saved"   // saveFiles committed it
	EventUpdated = "file.updated" // renamed, moved or its metadata changed
	EventDeleted = "file.deleted" // its delete started: it is gone for everyone
	// EventScanned (scan.go): the virus scan's verdict.
)

// Outbox is what the transactions that write events need from the
// database; internal/database implements it for each dialect.
type Outbox interface {
	// Stamp is called in tx right before it writes events, and returns
	// what each event's xid holds: how readers tell the events committed
	// since they last read (internal/database's EventReader). It also has
	// readers in other processes woken when tx commits.
	Stamp(ctx context.Context, tx *ent.Tx) (int64, error)
	// Committed is told after a transaction that wrote events committed,
	// to wake this process's readers at once.
	Committed()
}

// Webhook is a URL that is sent the events of some types.
type Webhook struct {
	URL   string
	Types []string // empty: every type
}

// takes reports whether the webhook is sent events of type typ.
func (w Webhook) takes(typ string) bool { return len(w.Types) == 0 || slices.Contains(w.Types, typ) }

// EventData is a file as its events carry it (a webhook's data), taken
// when the event is written: a deleted file's event still says what it was.
type EventData struct {
	ID           uuid.UUID         `json:"id"`
	FileName     string            `json:"fileName"`
	OriginalName string            `json:"originalName"`
	Size         int64             `json:"size"`
	ContentType  string            `json:"contentType"`
	Owner        string            `json:"owner"`
	Collection   string            `json:"collection"`
	Folder       string            `json:"folder,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
	// Status is READY, SCANNING, INFECTED or UNSCANNED; ScanResult names
	// what the virus scan found in an INFECTED file.
	Status     string  `json:"status"`
	ScanResult *string `json:"scanResult,omitempty"`
}

// noOutbox stamps nothing and wakes nobody: for a service whose events
// nobody reads (tests of the rules alone).
type noOutbox struct{}

func (noOutbox) Stamp(context.Context, *ent.Tx) (int64, error) { return 0, nil }
func (noOutbox) Committed()                                    {}

// record writes in tx an event of typ for each file, in order, and its
// deliveries to the webhooks that take typ. It is the last thing a
// transaction does before committing. Each of fs's rows must have been
// written in tx before (inserted, updated or deleted): that makes a later
// transaction on the same file wait for this one's commit before it
// numbers its event, which keeps each file's events in order (Outbox in
// internal/database).
func (s *Service) record(ctx context.Context, tx *ent.Tx, typ string, fs ...*ent.File) error {
	if len(fs) == 0 {
		return nil
	}
	xid, err := s.cfg.Outbox.Stamp(ctx, tx)
	if err != nil {
		return dbError("stamping events", err)
	}
	return s.recordStamped(ctx, tx, xid, typ, fs...)
}

// countAndRecord adds us (sorted by owner) to the usage rows and ds to
// the folder counts, then records typ's events of fs, last in tx. A
// Usages that can (countsAndEvents) writes the counts and the events in
// one statement: the usage row of a user whose calls queue for it (one
// user's saves and deletes) is then held for that statement and the
// commit, as a plain Go save that updates the row in its one statement
// holds it, instead of for two statements and the commit; and one that
// can also commit (countsEventsCommit) does so in the same round trip
// when no webhook takes typ, so countAndRecord must be the last write of
// tx.
func (s *Service) countAndRecord(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []FolderDelta, typ string, fs ...*ent.File) error {
	c, ok := s.usages.(countsAndEvents)
	if !ok || len(fs) == 0 || s.cfg.Outbox == (noOutbox{}) {
		for _, u := range us {
			if err := s.addUsage(ctx, tx, u); err != nil {
				return err
			}
		}
		if err := s.addFolders(ctx, tx, ds); err != nil {
			return err
		}
		return s.record(ctx, tx, typ, fs...)
	}
	evs, err := s.newEvents(typ, fs)
	if err != nil {
		return err
	}
	if cc, ok := c.(countsEventsCommit); ok && !s.webhooksTake(typ) {
		// Nothing to write after the events: the commit goes with them.
		if err := cc.CommitCountsAndEvents(ctx, tx, us, ds, evs); err != nil {
			return dbError("updating usage and folder counts, writing events and committing", err)
		}
		return nil
	}
	ids, err := c.AddCountsAndEvents(ctx, tx, us, ds, evs)
	if err != nil {
		return dbError("updating usage and folder counts and writing events", err)
	}
	return s.writeDeliveries(ctx, tx, typ, evs, ids)
}

// countsAndEvents is a Usages that also writes events: it applies usage
// and folder deltas as Add and AddFolders do, then writes evs as
// recordStamped does, stamped as Outbox.Stamp stamps (and has readers
// woken at the commit), in one round trip where the database allows. It
// returns the events' ids in evs' order.
type countsAndEvents interface {
	AddCountsAndEvents(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []FolderDelta, evs []NewEvent) ([]int64, error)
}

// countsEventsCommit is a countsAndEvents that can also commit tx in the
// same round trip, so that the usage rows it locks are held for no round
// trip at all (a plain Go save that updates the row in its one
// autocommitted statement holds it as long). tx then holds a new, empty
// transaction, which the caller commits as it would have committed tx (no
// write, no WAL flush): CommitCountsAndEvents must be the last write of
// its transaction. Its events have no ids to give: no webhook may take
// them.
type countsEventsCommit interface {
	CommitCountsAndEvents(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []FolderDelta, evs []NewEvent) error
}

// NewEvent is an event row to write (ent/schema/event.go), but for its
// id and xid, which the database gives.
type NewEvent struct {
	PublicID   uuid.UUID
	Type       string
	FileID     uuid.UUID
	Owner      string
	Collection string
	Data       string
	CreatedAt  time.Time
}

// newEvents makes typ's event of each of fs, in order.
func (s *Service) newEvents(typ string, fs []*ent.File) ([]NewEvent, error) {
	now := s.cfg.Now()
	evs := make([]NewEvent, len(fs))
	for i, f := range fs {
		data, err := json.Marshal(EventData{
			ID: f.ID, FileName: f.FileName, OriginalName: f.OriginalName, Size: f.Size,
			ContentType: f.ContentType, Owner: f.Owner, Collection: f.Collection, Folder: f.Folder, Metadata: f.Metadata, CreatedAt: f.CreatedAt.UTC(),
			Status: string(f.Status), ScanResult: f.ScanResult,
		})
		if err != nil {
			return nil, err
		}
		evs[i] = NewEvent{PublicID: event.DefaultPublicID(), Type: typ, FileID: f.ID, Owner: f.Owner,
			Collection: f.Collection, Data: string(data), CreatedAt: now}
	}
	return evs, nil
}

// recordStamped is record once the outbox's stamp is taken.
func (s *Service) recordStamped(ctx context.Context, tx *ent.Tx, xid int64, typ string, fs ...*ent.File) error {
	evs, err := s.newEvents(typ, fs)
	if err != nil {
		return err
	}
	builders := make([]*ent.EventCreate, len(evs))
	for i, e := range evs {
		builders[i] = tx.Event.Create().
			SetPublicID(e.PublicID).
			SetType(e.Type).
			SetFileID(e.FileID).
			SetOwner(e.Owner).
			SetCollection(e.Collection).
			SetData(e.Data).
			SetXid(xid).
			SetCreatedAt(e.CreatedAt)
	}
	saved, err := tx.Event.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return dbError("writing events", err)
	}
	ids := make([]int64, len(saved))
	for i, ev := range saved {
		ids[i] = ev.ID
	}
	return s.writeDeliveries(ctx, tx, typ, evs, ids)
}

// writeDeliveries writes, in tx, the deliveries of the events evs (of
// type typ, written with the ids ids) to the webhooks that take typ.
func (s *Service) writeDeliveries(ctx context.Context, tx *ent.Tx, typ string, evs []NewEvent, ids []int64) error {
	var deliveries []*ent.DeliveryCreate
	for _, w := range s.cfg.Webhooks {
		if !w.takes(typ) {
			continue
		}
		for i, ev := range evs {
			deliveries = append(deliveries, tx.Delivery.Create().
				SetEventID(ids[i]).
				SetURL(w.URL).
				SetFileID(ev.FileID).
				SetNextAttemptAt(ev.CreatedAt).
				SetCreatedAt(ev.CreatedAt))
		}
	}
	if len(deliveries) > 0 {
		if err := tx.Delivery.CreateBulk(deliveries...).Exec(ctx); err != nil {
			return dbError("writing webhook deliveries", err)
		}
	}
	return nil
}

// fileUpdated writes the file.updated event of f in tx: a change to a
// saved file calls it last in its transaction.
func (s *Service) fileUpdated(ctx context.Context, tx *ent.Tx, f *ent.File) error {
	return s.record(ctx, tx, EventUpdated, f)
}

// EventScope says whose events the caller may follow: their own, or, for
// an admin, everyone's (all).
func (s *Service) EventScope(ctx context.Context) (owner string, all bool, err error) {
	u, err := auth.FromContext(ctx)
	if err != nil {
		return "", false, err
	}
	return u.ID, u.Admin, nil
}
