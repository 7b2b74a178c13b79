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
	var out []*UploadURL
	err := s.issueUploads(ctx, reqs, kindPUT, nil, func(rows []issued) error {
		// The URLs are signed only now that the rows are written, so a
		// transaction kept waiting under load does not eat into their life:
		// the TTL starts when the answer is ready. A URL may so outlive its
		// row's expiry by the wait, but by no more than ClockSkew, which the
		// sweeper waits beyond the save window: nothing sweeps an upload
		// whose URL still works.
		ttl := min(s.cfg.UploadURLTTL, rows[0].expires.Add(s.cfg.ClockSkew).Sub(s.cfg.Now()))
		out = make([]*UploadURL, len(rows))
		for i, r := range rows {
			req, err := s.store.PresignPut(ctx, r.key, storage.PutOptions{
				Size:           r.Size,
				ContentType:    r.ContentType,
				ChecksumSHA256: r.ChecksumSHA256,
				TTL:            ttl,
			})
			if err != nil {
				// Presigning only checks the key, which NewKey made; should
				// it fail, the rows expire unused and the sweeper takes them.
				return storageError("presigning upload", err)
			}
			out[i] = &UploadURL{FileName: r.key, OriginalName: r.OriginalName, Request: req}
		}
		return nil
	})
	return out, err
}

// uploadKind is what differs between the two kinds of upload as they are
// issued.
type uploadKind struct {
	inParts bool
	event   string // logged once they are issued
}

var (
	kindPUT   = uploadKind{event: "files.upload_urls_issued"}
	kindParts = uploadKind{inParts: true, event: "files.multipart_uploads_issued"}
)

// issued is one upload being issued: its request, validated, its key, and
// its row to write.
type issued struct {
	UploadRequest
	key     string
	expires time.Time
	row     *ent.Upload // what prepare may add to
}

// issueUploads is the one way uploads are issued: it validates the caller's
// requests, refuses while storage does not answer, builds a row for each,
// lets prepare (if any) add to them, writes them all within the caller's
// limits, and then hands them to finish (if any) before it logs and counts
// them. Nothing is issued unless every request is valid.
func (s *Service) issueUploads(ctx context.Context, reqs []*UploadRequest, kind uploadKind, prepare, finish func([]issued) error) error {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return err
	}
	valid, err := s.validateUploads(reqs)
	if err != nil {
		return err
	}
	if !kind.inParts {
		if err := s.checkPutSize(valid); err != nil {
			return err
		}
	}
	if err := s.requireStorageUp(ctx); err != nil {
		return err
	}
	life := s.cfg.UploadURLTTL
	if kind.inParts {
		life = s.cfg.MultipartWindow
	}
	expires := s.cfg.Now().Add(life)
	rows := make([]issued, len(valid))
	uploads := make([]*ent.Upload, len(valid))
	var bytes int64
	for i, r := range valid {
		key := s.newKey(s.byName[r.Collection], r)
		uploads[i] = &ent.Upload{
			FileName:       key,
			OriginalName:   r.OriginalName,
			Size:           r.Size,
			ContentType:    r.ContentType,
			ChecksumSha256: r.ChecksumSHA256,
			Folder:         r.Folder,
			Metadata:       r.Metadata,
			ExpiresAt:      expires,
			Owner:          user.ID,
			Collection:     r.Collection,
		}
		rows[i] = issued{UploadRequest: r, key: key, expires: expires, row: uploads[i]}
		bytes += r.Size
	}
	if prepare != nil {
		if err := prepare(rows); err != nil {
			return err
		}
	}
	// The rows and one conditional update of the user's usage row, which
	// refuses what would break a limit, all or nothing: on PostgreSQL one
	// statement, so the user's concurrent calls queue only for it and its
	// commit.
	if err := s.reserveUsage(ctx, uploads, user.ID, len(rows), bytes); err != nil {
		return err
	}
	if finish != nil {
		if err := finish(rows); err != nil {
			return err
		}
	}
	s.log.InfoContext(ctx, kind.event, "user", user.ID, "count", len(rows))
	s.cfg.Events.UploadsIssued(len(rows), bytes)
	return nil
}

// storageUpFor is how long one answer from storage vouches for it.
const storageUpFor = 5 * time.Second

// requireStorageUp refuses to hand out upload URLs while the storage does not
// answer: presigning works offline, so without this look the client would
// only learn of the outage from a failed PUT. One answer vouches for a few
// seconds, so the look costs nothing under load.
func (s *Service) requireStorageUp(ctx context.Context) error {
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
