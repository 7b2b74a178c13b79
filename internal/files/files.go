// Package files holds Filegraph's rules: what may be uploaded, how keys are
// made, what an upload must look like in storage before it is saved, and
// how files are listed, downloaded and deleted. Resolvers, and any job or
// command, call this package; none of them talk to storage or the database
// on their own.
package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"entgo.io/contrib/entgql"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/storage"
)

// Config holds the limits and lifetimes the rules use.
type Config struct {
	UploadURLTTL   time.Duration
	DownloadURLTTL time.Duration
	MaxUploadSize  int64
	Limits         config.Limits
	// SaveWindow is how long after its URL expires an upload may be saved.
	SaveWindow time.Duration
	// DeleteGrace is how long a delete may take before the sweeper takes
	// it as interrupted and finishes it: longer than any request runs.
	DeleteGrace time.Duration
	// ClockSkew is added to the sweeper's waits, so that replicas whose
	// clocks differ a little never race each other over one upload.
	ClockSkew time.Duration
	// Dialect picks how a user's uploads are serialized for limit checks.
	Dialect string
	Now     func() time.Time // nil: time.Now
}

// Service applies the rules over one database and one store.
type Service struct {
	db    *ent.Client
	store storage.Store
	cfg   Config
	log   *slog.Logger

	storageSeen atomic.Int64 // unix nanos of the last answer from storage
}

// New returns a Service.
func New(db *ent.Client, store storage.Store, cfg Config, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, store: store, cfg: cfg, log: log}
}

// visible returns the caller and what of the files they may see: their own
// (all of them for an admin), and none that are being deleted. Every read of
// files goes through it, so another user's file is simply not there.
func (s *Service) visible(ctx context.Context) (auth.User, predicate.File, error) {
	u, err := auth.FromContext(ctx)
	if err != nil {
		return u, nil, err
	}
	if u.Admin {
		return u, file.DeletedAtIsNil(), nil
	}
	return u, file.And(file.Owner(u.ID), file.DeletedAtIsNil()), nil
}

// UploadURL is an issued upload: the key and the presigned request.
type UploadURL struct {
	FileName     string
	OriginalName string
	storage.Request
}

// CreateUploadURLs validates the requests, makes a key for each, records
// the uploads and returns a presigned PUT for each. Nothing is issued unless
// every request is valid.
func (s *Service) CreateUploadURLs(ctx context.Context, reqs []*UploadRequest) ([]*UploadURL, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	valid, err := s.validate(reqs)
	if err != nil {
		return nil, err
	}
	if err := s.storageUp(ctx); err != nil {
		return nil, err
	}
	out := make([]*UploadURL, len(valid))
	creates := make([]*ent.UploadCreate, len(valid))
	for i, r := range valid {
		key := NewKey(r.OriginalName)
		req, err := s.store.PresignPut(ctx, key, storage.PutOptions{
			Size:           r.Size,
			ContentType:    r.ContentType,
			ChecksumSHA256: r.ChecksumSHA256,
			TTL:            s.cfg.UploadURLTTL,
		})
		if err != nil {
			return nil, storageError("presigning upload", err)
		}
		out[i] = &UploadURL{FileName: key, OriginalName: r.OriginalName, Request: req}
		creates[i] = s.db.Upload.Create().
			SetFileName(key).
			SetOriginalName(r.OriginalName).
			SetSize(r.Size).
			SetContentType(r.ContentType).
			SetChecksumSha256(r.ChecksumSHA256).
			SetExpiresAt(req.ExpiresAt).
			SetOwner(user.ID)
	}
	if err := s.issue(ctx, user, valid, creates); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "files.upload_urls_issued", "user", user.ID, "count", len(out))
	return out, nil
}

// storageUpFor is how long one answer from storage vouches for it.
const storageUpFor = 5 * time.Second

// storageUp refuses to hand out upload URLs while the storage does not
// answer: presigning works offline, so without this look the client would
// only learn of the outage from a failed PUT. One answer vouches for a few
// seconds, so the look costs nothing under load.
func (s *Service) storageUp(ctx context.Context) error {
	if s.cfg.Now().Sub(time.Unix(0, s.storageSeen.Load())) < storageUpFor {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return storageError("checking storage", fmt.Errorf("%w: %w", storage.ErrUnavailable, err))
	}
	s.storageSeen.Store(s.cfg.Now().UnixNano())
	return nil
}

// issue records the uploads if the user's limits allow them. The check and
// the insert share a transaction that holds the user's lock, so concurrent
// calls cannot both squeeze under a limit.
func (s *Service) issue(ctx context.Context, user auth.User, reqs []UploadRequest, creates []*ent.UploadCreate) (err error) {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return dbError("starting transaction", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := s.checkLimits(ctx, tx, user, reqs); err != nil {
		return err
	}
	if err := tx.Upload.CreateBulk(creates...).Exec(ctx); err != nil {
		return dbError("recording uploads", err)
	}
	if err := tx.Commit(); err != nil {
		return dbError("committing uploads", err)
	}
	return nil
}

// SaveRequest reports one finished upload.
type SaveRequest struct {
	FileName     string
	OriginalName string
}

// Save checks each reported upload against what was issued and what is in
// storage, then saves them all in one transaction, or none. Saving a file
// that is already saved returns it again, so a client may retry freely.
func (s *Service) Save(ctx context.Context, reqs []*SaveRequest) ([]*ent.File, error) {
	files, err := s.save(ctx, reqs)
	if ent.IsConstraintError(err) {
		// A concurrent save of the same key won; now it is saved, and the
		// retry returns it.
		files, err = s.save(ctx, reqs)
	}
	return files, err
}

func (s *Service) save(ctx context.Context, reqs []*SaveRequest) ([]*ent.File, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := checkSaveRequests(reqs)
	if err != nil {
		return nil, err
	}
	// Only the caller's own uploads and files count, admin or not: a key
	// issued to someone else reads as never issued.
	// Uploads first: a concurrent save that commits between the two reads
	// then shows up as saved, not as never issued.
	pending, err := s.db.Upload.Query().Where(upload.FileNameIn(keys...), upload.Owner(user.ID)).All(ctx)
	if err != nil {
		return nil, dbError("looking up uploads", err)
	}
	saved, err := s.db.File.Query().Where(file.FileNameIn(keys...), file.Owner(user.ID), file.DeletedAtIsNil()).All(ctx)
	if err != nil {
		return nil, dbError("looking up saved files", err)
	}
	savedBy := make(map[string]*ent.File, len(saved))
	for _, f := range saved {
		savedBy[f.FileName] = f
	}
	pendingBy := make(map[string]*ent.Upload, len(pending))
	for _, u := range pending {
		pendingBy[u.FileName] = u
	}

	// Decide what each request needs, then look at the pending objects in
	// storage concurrently: on S3 each look is a round trip.
	refused := make([]*Problem, len(reqs)) // at most one per file, kept in order
	refuse := func(i int, name, format string, args ...any) {
		refused[i] = &Problem{Field: fmt.Sprintf("files[%d].%s", i, name), Message: fmt.Sprintf(format, args...)}
	}
	checks := make([]*check, len(reqs))
	for i, r := range reqs {
		if f := savedBy[r.FileName]; f != nil {
			if f.OriginalName != r.OriginalName {
				refuse(i, "originalName", "%q was saved as %q", r.FileName, f.OriginalName)
			}
			continue
		}
		u := pendingBy[r.FileName]
		switch {
		case u == nil:
			refuse(i, "fileName", "%q was not issued by createUploadUrls", r.FileName)
		case u.OriginalName != r.OriginalName:
			refuse(i, "originalName", "%q was issued for %q", r.FileName, u.OriginalName)
		case !s.saveable(u):
			refuse(i, "fileName", "%q expired at %s; upload it again with a new URL", r.FileName, u.ExpiresAt.Add(s.cfg.SaveWindow).UTC().Format(time.RFC3339))
		default:
			checks[i] = &check{upload: u}
		}
	}
	var g errgroup.Group
	g.SetLimit(statConcurrency)
	for _, c := range checks {
		if c != nil {
			g.Go(func() error {
				c.obj, c.err = s.store.Stat(ctx, c.upload.FileName)
				return nil
			})
		}
	}
	g.Wait()

	var ready []*ent.File
	for i, c := range checks {
		if c == nil {
			continue
		}
		switch {
		case errors.Is(c.err, storage.ErrNotExist):
			refuse(i, "fileName", "%q has not been uploaded", reqs[i].FileName)
			continue
		case c.err != nil:
			return nil, storageError("checking upload", c.err)
		}
		if msg := mismatch(c.upload, c.obj); msg != "" {
			refuse(i, "fileName", "%q %s", reqs[i].FileName, msg)
			continue
		}
		contentType := c.obj.ContentType
		if contentType == "" {
			contentType = c.upload.ContentType
		}
		ready = append(ready, &ent.File{
			Bucket:       s.store.Bucket(),
			FileName:     c.upload.FileName,
			OriginalName: c.upload.OriginalName,
			Size:         c.obj.Size,
			ContentType:  contentType,
			Owner:        user.ID,
		})
	}
	var ps problems
	for _, p := range refused {
		if p != nil {
			ps = append(ps, *p)
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(ready) > 0 {
		created, err := s.commit(ctx, user, ready)
		if err != nil {
			return nil, err
		}
		for _, f := range created {
			savedBy[f.FileName] = f
		}
		s.log.InfoContext(ctx, "files.saved", "count", len(created))
	}
	out := make([]*ent.File, len(reqs))
	for i, r := range reqs {
		out[i] = savedBy[r.FileName]
	}
	return out, nil
}

// statConcurrency bounds the storage lookups one save makes at once.
const statConcurrency = 8

// check is one pending upload's look at storage.
type check struct {
	upload *ent.Upload
	obj    storage.Object
	err    error
}

// saveable reports whether an upload may still be saved; past that the
// sweeper may be removing it.
func (s *Service) saveable(u *ent.Upload) bool {
	return u.ExpiresAt.Add(s.cfg.SaveWindow).After(s.cfg.Now())
}

// commit creates the files and retires their uploads atomically. An upload
// the sweeper took meanwhile is no longer there to retire, and the whole
// save is refused rather than saving a file whose object is going away.
func (s *Service) commit(ctx context.Context, user auth.User, files []*ent.File) (_ []*ent.File, err error) {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return nil, dbError("starting transaction", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	builders := make([]*ent.FileCreate, len(files))
	keys := make([]string, len(files))
	for i, f := range files {
		builders[i] = tx.File.Create().
			SetBucket(f.Bucket).
			SetFileName(f.FileName).
			SetOriginalName(f.OriginalName).
			SetSize(f.Size).
			SetContentType(f.ContentType).
			SetOwner(f.Owner)
		keys[i] = f.FileName
	}
	created, err := tx.File.CreateBulk(builders...).Save(ctx)
	if err != nil {
		if ent.IsConstraintError(err) {
			return nil, err
		}
		return nil, dbError("saving files", err)
	}
	retired, err := tx.Upload.Delete().Where(
		upload.FileNameIn(keys...),
		upload.Owner(user.ID),
		upload.ExpiresAtGT(s.cfg.Now().Add(-s.cfg.SaveWindow)),
	).Exec(ctx)
	if err != nil {
		return nil, dbError("retiring uploads", err)
	}
	if retired != len(keys) {
		return nil, &InvalidError{Problems: []Problem{{Field: "files", Message: "an upload expired while saving; upload it again with a new URL"}}}
	}
	if err := tx.Commit(); err != nil {
		return nil, dbError("committing", err)
	}
	return created, nil
}

// checkSaveRequests bounds the call and refuses nulls and repeated keys; it
// returns the keys.
func checkSaveRequests(reqs []*SaveRequest) ([]string, error) {
	if err := checkCount(len(reqs)); err != nil {
		return nil, err
	}
	var ps problems
	keys := make([]string, len(reqs))
	seen := make(map[string]int, len(reqs))
	for i, r := range reqs {
		if r == nil {
			return nil, &InvalidError{Problems: []Problem{{Field: fmt.Sprintf("files[%d]", i), Message: "must not be null"}}}
		}
		if j, dup := seen[r.FileName]; dup {
			ps.add(fmt.Sprintf("files[%d].fileName", i), "repeats files[%d]", j)
		}
		seen[r.FileName] = i
		keys[i] = r.FileName
	}
	return keys, ps.err()
}

// mismatch says how a stored object differs from its announced upload.
func mismatch(u *ent.Upload, obj storage.Object) string {
	if obj.Size != u.Size {
		return fmt.Sprintf("is %d bytes in storage, %d were announced", obj.Size, u.Size)
	}
	if u.ChecksumSha256 != "" && obj.ChecksumSHA256 != "" && obj.ChecksumSHA256 != u.ChecksumSha256 {
		return "does not match the announced checksum"
	}
	return ""
}

// ListArgs are the Relay connection arguments.
type ListArgs struct {
	After, Before *ent.Cursor
	First, Last   *int
	OrderBy       *ent.FileOrder
	Where         *ent.FileWhereInput
}

// newestFirst is the default order of the files connection.
var newestFirst = &ent.FileOrder{Direction: entgql.OrderDirectionDesc, Field: ent.FileOrderFieldCreatedAt}

// List returns one page of files, newest first unless ordered otherwise.
func (s *Service) List(ctx context.Context, a ListArgs) (*ent.FileConnection, error) {
	var ps problems
	for _, n := range []struct {
		name string
		v    *int
	}{{"first", a.First}, {"last", a.Last}} {
		if n.v != nil && (*n.v < 0 || *n.v > MaxPageSize) {
			ps.add(n.name, "must be from 0 to %d, got %d", MaxPageSize, *n.v)
		}
	}
	if a.First != nil && a.Last != nil {
		ps.add("last", "cannot be given together with first")
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	first := a.First
	if first == nil && a.Last == nil {
		n := MaxPageSize
		first = &n
	}
	order := a.OrderBy
	if order == nil {
		order = newestFirst
	}
	_, scope, err := s.visible(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := s.db.File.Query().Where(scope).Paginate(ctx, a.After, first, a.Before, a.Last,
		ent.WithFileOrder(order),
		ent.WithFileFilter(func(q *ent.FileQuery) (*ent.FileQuery, error) {
			q, err := a.Where.Filter(q)
			if err != nil {
				return nil, &InvalidError{Problems: []Problem{{Field: "where", Message: "has an empty filter"}}}
			}
			return q, nil
		}),
	)
	if err != nil {
		var invalid *InvalidError
		if errors.As(err, &invalid) {
			return nil, err
		}
		return nil, dbError("listing files", err)
	}
	return conn, nil
}

// Get returns the file with the id, if the caller may see it.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*ent.File, error) {
	_, scope, err := s.visible(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.db.File.Query().Where(file.ID(id), scope).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, dbError("reading file", err)
	}
	return f, nil
}

// Node resolves a Relay node id; an unknown id is nil, not an error.
func (s *Service) Node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	f, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return f, err
}

// Nodes resolves many node ids, nil for each unknown one.
func (s *Service) Nodes(ctx context.Context, ids []uuid.UUID) ([]ent.Noder, error) {
	_, scope, err := s.visible(ctx)
	if err != nil {
		return nil, err
	}
	found, err := s.db.File.Query().Where(file.IDIn(ids...), scope).All(ctx)
	if err != nil {
		return nil, dbError("reading files", err)
	}
	byID := make(map[uuid.UUID]*ent.File, len(found))
	for _, f := range found {
		byID[f.ID] = f
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		if f := byID[id]; f != nil {
			out[i] = f
		}
	}
	return out, nil
}

// DownloadURL returns a presigned GET that downloads the file under its
// original name and saved type.
func (s *Service) DownloadURL(ctx context.Context, id uuid.UUID) (*storage.Request, error) {
	f, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	req, err := s.store.PresignGet(ctx, f.FileName, storage.GetOptions{
		FileName:    f.OriginalName,
		ContentType: f.ContentType,
		TTL:         s.cfg.DownloadURLTTL,
	})
	if err != nil {
		return nil, storageError("presigning download", err)
	}
	return &req, nil
}
