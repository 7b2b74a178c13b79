package files

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
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
// Usages that can (countsThenStamp) takes the outbox's stamp in the same
// statement as the counts: the usage row of a user whose calls queue for
// it (one user's saves and deletes) is then held for two statements and
// the commit instead of four.
func (s *Service) countAndRecord(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []FolderDelta, typ string, fs ...*ent.File) error {
	c, ok := s.usages.(countsThenStamp)
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
	xid, err := c.AddCountsThenStamp(ctx, tx, us, ds)
	if err != nil {
		return dbError("updating usage and folder counts", err)
	}
	return s.recordStamped(ctx, tx, xid, typ, fs...)
}

// countsThenStamp is a Usages that also stamps events: it applies usage
// and folder deltas as Add and AddFolders do, then returns the stamp
// Outbox.Stamp returns, in one round trip where the database allows.
type countsThenStamp interface {
	AddCountsThenStamp(ctx context.Context, tx *ent.Tx, us []ent.Usage, ds []FolderDelta) (int64, error)
}

// recordStamped is record once the outbox's stamp is taken.
func (s *Service) recordStamped(ctx context.Context, tx *ent.Tx, xid int64, typ string, fs ...*ent.File) error {
	now := s.cfg.Now()
	builders := make([]*ent.EventCreate, len(fs))
	for i, f := range fs {
		data, err := json.Marshal(EventData{
			ID: f.ID, FileName: f.FileName, OriginalName: f.OriginalName, Size: f.Size,
			ContentType: f.ContentType, Owner: f.Owner, Collection: f.Collection, Folder: f.Folder, Metadata: f.Metadata, CreatedAt: f.CreatedAt.UTC(),
			Status: string(f.Status), ScanResult: f.ScanResult,
		})
		if err != nil {
			return err
		}
		builders[i] = tx.Event.Create().
			SetType(typ).
			SetFileID(f.ID).
			SetOwner(f.Owner).
			SetCollection(f.Collection).
			SetData(string(data)).
			SetXid(xid).
			SetCreatedAt(now)
	}
	evs, err := tx.Event.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return dbError("writing events", err)
	}
	var deliveries []*ent.DeliveryCreate
	for _, w := range s.cfg.Webhooks {
		if !w.takes(typ) {
			continue
		}
		for _, ev := range evs {
			deliveries = append(deliveries, tx.Delivery.Create().
				SetEventID(ev.ID).
				SetURL(w.URL).
				SetFileID(ev.FileID).
				SetNextAttemptAt(now).
				SetCreatedAt(now))
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
