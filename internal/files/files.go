// Package files holds Filegraph's rules: what may be uploaded, how keys are
// made, what an upload must look like in storage before it is saved, and
// how files are listed, downloaded and deleted. Resolvers, and any job or
// command, call this package; none of them talk to storage or the database
// on their own.
//
// The files follow an upload's life:
//
//   - issue.go: createUploadUrls and the one path every upload is issued by
//     (validate.go checks the requests, limits.go holds them to the user's
//     usage row)
//   - parts.go: uploads in parts, their layout and part URLs
//   - pending.go: the caller's pending uploads and the parts they hold
//   - deadlines.go: until when an upload may be saved and a PUT may land;
//     gate.go lets the store ask the same
//   - save.go: saving what was uploaded; save_parts.go completes uploads
//     in parts
//   - abort.go: giving up a pending upload
//   - attributes.go: a file's folder and metadata, and their rules
//   - read.go: listing (where.go checks filters, filter.go adds the
//     folder and metadata ones), downloading
//   - jobs.go: work after a save, run in the background; scan.go: the
//     virus scan gate
//   - folders.go: the folders that hold a user's files, counted
//   - update.go: renaming, moving, new metadata
//   - delete.go: deleting saved files, one or a batch
//   - sweep.go: removing what expired and finishing interrupted deletes
//   - reconcile.go: comparing the store with the database
//
// errors.go holds the errors callers tell apart, events.go what is
// reported to telemetry.
package files

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// Options holds the limits and lifetimes the rules use; internal/server
// maps the configuration onto them.
type Options struct {
	UploadURLTTL   time.Duration
	DownloadURLTTL time.Duration
	MaxUploadSize  int64
	Limits         Limits
	// Collections are the operator's upload profiles beside
	// DefaultCollection; what one leaves out, the global limits give.
	Collections []Collection
	// SaveWindow is how long after its URL expires an upload may be saved.
	SaveWindow time.Duration
	// DeleteGrace is how long a delete may take before the sweeper takes
	// it as interrupted and finishes it: longer than any request runs.
	DeleteGrace time.Duration
	// ClockSkew is added to the sweeper's waits, so that replicas whose
	// clocks differ a little never race each other over one upload. It is
	// also the most an upload URL, signed after its row is written, may
	// outlive the row's expiry.
	ClockSkew time.Duration
	// PartSize is the part length uploads in parts start from; it grows
	// for files that would need more than storage.MaxParts parts.
	PartSize int64
	// MultipartWindow is how long after its creation an upload in parts may
	// be saved.
	MultipartWindow time.Duration
	// RevocableURLs says the store refuses a PUT once its upload is no
	// longer pending (storage.PutGate); otherwise (S3) what is deleted
	// while an upload URL for it may still write is tombstoned.
	RevocableURLs bool
	Now           func() time.Time // nil: time.Now
	Events        Events           // nil: nobody is told
	// Outbox orders the events that saves and deletes write (nil: for a
	// service whose events nobody reads), and Webhooks are sent them.
	Outbox   Outbox
	Webhooks []Webhook
	// Lookups reads files on the hot paths (nil: through ent).
	Lookups Lookups
	// Deletes marks and removes deleteFile's file in fewer round trips
	// (nil: through ent).
	Deletes Deletes
	// Saves writes a save's transaction in one round trip (nil: through
	// ent).
	Saves Saves

	// Scanner, when set, holds every saved file up to ScanMaxSize bytes
	// (0: any size) until it is found clean; larger ones are UNSCANNED,
	// and served only with ServeUnscanned.
	Scanner        Scanner
	ScanMaxSize    int64
	ServeUnscanned bool
	// Copier, when set with a Scanner, holds public collections' uploads
	// under the private prefix until they are found clean (heldPrefix),
	// for a store that serves public keys to anyone; nil for a store that
	// asks before it serves one (storage.PublicGate).
	Copier storage.Copier
	// Jobs hands out the work after saves (nil: this service runs none);
	// JobTimeout bounds one run.
	Jobs       JobQueue
	JobTimeout time.Duration
	// ImageMaxPixels bounds the images variants are made of (0: none),
	// read from their header before they are decoded.
	ImageMaxPixels int64
}

// Limits bound what each user may upload.
type Limits struct {
	AllowedContentTypes []string // media types or type/* patterns; empty allows all
	UserQuotaBytes      int64    // saved and pending together; 0: no quota
	MaxPendingUploads   int      // issued and not yet saved; 0: no bound
}

// Service applies the rules over one database and one store.
type Service struct {
	db     *ent.Client
	usages Usages
	store  storage.Store
	cfg    Options
	log    *slog.Logger

	collections []*Collection // DefaultCollection first
	byName      map[string]*Collection

	storageSeen atomic.Int64         // unix nanos of the last answer from storage
	marks       batches[*markCall]   // deleteFile's marks waiting for their batch
	removals    batches[*removeCall] // marked rows waiting for theirs
	completing  keyLock              // uploads in parts being completed, by key
	jobsDue     chan struct{}
	counts      countCache // filtered listings' kept counts (counts.go)
}

// New returns a Service; usages keeps the usage rows of db.
func New(db *ent.Client, usages Usages, store storage.Store, cfg Options, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Events == nil {
		cfg.Events = noEvents{}
	}
	if cfg.Outbox == nil {
		cfg.Outbox = noOutbox{}
	}
	if cfg.Lookups == nil {
		cfg.Lookups = entLookups{db}
	}
	db.File.Intercept(ent.InterceptFunc(countFromUsage))
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 2 * time.Minute
	}
	s := &Service{db: db, usages: usages, store: store, cfg: cfg, log: log, jobsDue: make(chan struct{}, 1)}
	s.collections, s.byName = collections(cfg)
	return s
}

// visibleToCaller returns the caller and what of the files they may see: their own
// (all of them for an admin), and none that are being deleted. Every read of
// files goes through it, so another user's file is simply not there.
func (s *Service) visibleToCaller(ctx context.Context) (auth.User, predicate.File, error) {
	u, err := auth.FromContext(ctx)
	if err != nil {
		return u, nil, err
	}
	if u.Admin {
		return u, file.DeletedAtIsNil(), nil
	}
	return u, file.And(file.Owner(u.ID), file.DeletedAtIsNil()), nil
}

// ownerInScope is visibleToCaller's scope as Lookups takes it: the
// caller's id, or "" for an admin, who sees every owner's files.
func ownerInScope(ctx context.Context) (string, error) {
	u, err := auth.FromContext(ctx)
	if err != nil || u.Admin {
		return "", err
	}
	return u.ID, nil
}
