package files

import (
	"context"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

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
	if err := s.checkPutSize(valid); err != nil {
		return nil, err
	}
	if err := s.storageUp(ctx); err != nil {
		return nil, err
	}
	rowExpiry := s.cfg.Now().Add(s.cfg.UploadURLTTL)
	keys := make([]string, len(valid))
	creates := make([]*ent.UploadCreate, len(valid))
	for i, r := range valid {
		keys[i] = NewKey(r.OriginalName)
		creates[i] = s.db.Upload.Create().
			SetFileName(keys[i]).
			SetOriginalName(r.OriginalName).
			SetSize(r.Size).
			SetContentType(r.ContentType).
			SetChecksumSha256(r.ChecksumSHA256).
			SetExpiresAt(rowExpiry).
			SetOwner(user.ID)
	}
	if err := s.issue(ctx, user, valid, creates); err != nil {
		return nil, err
	}
	// The URLs are signed only now that the rows are written, so a
	// transaction kept waiting under load does not eat into their life:
	// the TTL starts when the answer is ready. A URL may so outlive its
	// row's expiry by the wait, but by no more than ClockSkew, which the
	// sweeper waits beyond the save window: nothing sweeps an upload whose
	// URL still works.
	ttl := min(s.cfg.UploadURLTTL, rowExpiry.Add(s.cfg.ClockSkew).Sub(s.cfg.Now()))
	out := make([]*UploadURL, len(valid))
	for i, r := range valid {
		req, err := s.store.PresignPut(ctx, keys[i], storage.PutOptions{
			Size:           r.Size,
			ContentType:    r.ContentType,
			ChecksumSHA256: r.ChecksumSHA256,
			TTL:            ttl,
		})
		if err != nil {
			// Presigning only checks the key, which NewKey made; should it
			// fail, the rows expire unused and the sweeper takes them.
			return nil, storageError("presigning upload", err)
		}
		out[i] = &UploadURL{FileName: keys[i], OriginalName: r.OriginalName, Request: req}
	}
	s.log.InfoContext(ctx, "files.upload_urls_issued", "user", user.ID, "count", len(out))
	var bytes int64
	for _, r := range valid {
		bytes += r.Size
	}
	s.cfg.Events.UploadsIssued(len(out), bytes)
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
		return storageError("checking storage", err)
	}
	s.storageSeen.Store(s.cfg.Now().UnixNano())
	return nil
}

// issue records the uploads if the user's limits allow them: the rows
// first, then one conditional update of the user's usage row, which
// refuses what would break a limit and serializes the user's concurrent
// calls only from there to the commit.
func (s *Service) issue(ctx context.Context, user auth.User, reqs []UploadRequest, creates []*ent.UploadCreate) error {
	var bytes int64
	for _, r := range reqs {
		bytes += r.Size
	}
	return s.inTx(ctx, "uploads", func(tx *ent.Tx) error {
		if err := tx.Upload.CreateBulk(creates...).Exec(ctx); err != nil {
			return dbError("recording uploads", err)
		}
		return s.reserve(ctx, tx, user.ID, len(reqs), bytes)
	})
}
