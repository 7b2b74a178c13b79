package files

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// PendingUpload is an upload issued and not yet saved, single or in parts,
// as the caller sees it.
type PendingUpload struct {
	FileName     string
	OriginalName string
	Size         int64
	ContentType  string
	Collection   string
	CreatedAt    time.Time
	ExpiresAt    time.Time // the upload must be saved by then
	PartSize     *int64    // nil for a single PUT
	PartCount    *int      // nil for a single PUT

	id          ent.Cursor
	multipartID string
}

// UploadedPart is a part the store holds.
type UploadedPart struct {
	PartNumber int
	Size       int64
}

// PendingUploadConnection is one page of pending uploads.
type PendingUploadConnection struct {
	Edges      []*PendingUploadEdge
	PageInfo   ent.PageInfo
	TotalCount int
}

// PendingUploadEdge is one pending upload and its cursor.
type PendingUploadEdge struct {
	Node   *PendingUpload
	Cursor ent.Cursor
}

// PendingArgs are the Relay connection arguments of uploads.
type PendingArgs struct {
	After, Before *ent.Cursor
	First, Last   *int
}

func (s *Service) pending(u *ent.Upload) *PendingUpload {
	p := &PendingUpload{
		FileName:     u.FileName,
		OriginalName: u.OriginalName,
		Size:         u.Size,
		ContentType:  u.ContentType,
		Collection:   u.Collection,
		CreatedAt:    u.CreatedAt,
		ExpiresAt:    s.deadline(u),
		id:           ent.Cursor{ID: u.ID},
		multipartID:  u.MultipartID,
	}
	if inParts(u) {
		p.PartSize, p.PartCount = &u.PartSize, &u.PartCount
	}
	return p
}

// saveableAt selects the uploads that may still be saved at t.
func (s *Service) saveableAt(t time.Time) predicate.Upload {
	return upload.Or(
		upload.And(upload.MultipartID(""), upload.ExpiresAtGT(t.Add(-s.cfg.SaveWindow))),
		upload.And(upload.MultipartIDNEQ(""), upload.ExpiresAtGT(t)),
	)
}

// expiredAt selects the uploads that may no longer be saved at t; written
// out rather than as saveableAt's negation, so the expires_at index serves.
func (s *Service) expiredAt(t time.Time) predicate.Upload {
	return upload.Or(
		upload.And(upload.MultipartID(""), upload.ExpiresAtLT(t.Add(-s.cfg.SaveWindow))),
		upload.And(upload.MultipartIDNEQ(""), upload.ExpiresAtLT(t)),
	)
}

// Upload returns one of the caller's pending uploads, or nil when it is
// unknown, another user's, saved, or past its deadline.
func (s *Service) Upload(ctx context.Context, fileName string) (*PendingUpload, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.db.Upload.Query().Where(upload.FileName(fileName), upload.Owner(user.ID), s.saveableAt(s.cfg.Now())).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, dbError("reading upload", err)
	}
	return s.pending(u), nil
}

// Uploads returns one page of the caller's pending uploads, newest first.
// Upload ids are UUID v7, so id order is creation order and the cursor is
// the id alone.
func (s *Service) Uploads(ctx context.Context, a PendingArgs) (*PendingUploadConnection, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	var ps problems
	ps.checkPage(a.First, a.Last)
	if err := ps.err(); err != nil {
		return nil, err
	}
	mine := []predicate.Upload{upload.Owner(user.ID), s.saveableAt(s.cfg.Now())}
	total, err := s.db.Upload.Query().Where(mine...).Count(ctx)
	if err != nil {
		return nil, dbError("counting uploads", err)
	}
	q := s.db.Upload.Query().Where(mine...)
	if a.After != nil {
		q.Where(upload.IDLT(a.After.ID))
	}
	if a.Before != nil {
		q.Where(upload.IDGT(a.Before.ID))
	}
	n, backward := MaxPageSize, false
	switch {
	case a.First != nil:
		n = *a.First
	case a.Last != nil:
		n, backward = *a.Last, true
	}
	if backward {
		q.Order(ent.Asc(upload.FieldID))
	} else {
		q.Order(ent.Desc(upload.FieldID))
	}
	rows, err := q.Limit(n + 1).All(ctx)
	if err != nil {
		return nil, dbError("listing uploads", err)
	}
	conn := &PendingUploadConnection{TotalCount: total}
	conn.PageInfo.HasNextPage = a.Before != nil
	conn.PageInfo.HasPreviousPage = a.After != nil
	if len(rows) > n {
		rows = rows[:n]
		if backward {
			conn.PageInfo.HasPreviousPage = true
		} else {
			conn.PageInfo.HasNextPage = true
		}
	}
	if backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	conn.Edges = make([]*PendingUploadEdge, len(rows))
	for i, u := range rows {
		p := s.pending(u)
		conn.Edges[i] = &PendingUploadEdge{Node: p, Cursor: p.id}
	}
	if len(rows) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(rows)-1].Cursor
	}
	return conn, nil
}

// UploadedParts reads from the store which parts of p are there, all
// pages. A single PUT has no parts; an upload in parts that was completed
// (a save cut short after completing it) has all of them.
func (s *Service) UploadedParts(ctx context.Context, p *PendingUpload) ([]*UploadedPart, error) {
	if p.multipartID == "" {
		return []*UploadedPart{}, nil
	}
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	parts, err := mp.ListParts(ctx, p.FileName, p.multipartID)
	if errors.Is(err, storage.ErrNotExist) {
		if _, serr := s.store.Stat(ctx, p.FileName); serr == nil {
			out := make([]*UploadedPart, *p.PartCount)
			for i := range out {
				out[i] = &UploadedPart{PartNumber: i + 1, Size: min(*p.PartSize, p.Size-int64(i)**p.PartSize)}
			}
			return out, nil
		}
		return []*UploadedPart{}, nil
	}
	if err != nil {
		return nil, storageError("listing parts", err)
	}
	out := make([]*UploadedPart, len(parts))
	for i, part := range parts {
		out[i] = &UploadedPart{PartNumber: part.Number, Size: part.Size}
	}
	return out, nil
}

// AbortUpload gives up one of the caller's pending uploads: its parts or
// object leave the store, then its row goes. The row is first moved past
// its deadline, so a save racing the abort cannot commit, and an abort cut
// short (storage down, a crash) is finished by the sweeper: nothing is
// left behind either way.
func (s *Service) AbortUpload(ctx context.Context, fileName string) error {
	u, err := s.pendingUpload(ctx, fileName)
	if err != nil {
		return err
	}
	past := s.cfg.Now().Add(-s.cfg.SaveWindow - time.Second)
	n, err := s.db.Upload.Update().Where(upload.ID(u.ID), upload.ExpiresAtGT(past)).SetExpiresAt(past).Save(ctx)
	if err != nil {
		return dbError("marking upload aborted", err)
	}
	if n == 0 {
		// Saved meanwhile (then the object is the file's: leave it), or
		// marked by an earlier abort that did not finish (then finish it).
		if ok, err := s.db.Upload.Query().Where(upload.ID(u.ID)).Exist(ctx); err != nil {
			return dbError("reading upload", err)
		} else if !ok {
			return ErrUploadNotFound
		}
	}
	if err := s.removeFromStore(ctx, u.FileName, u.MultipartID); err != nil {
		return storageError("aborting upload", err)
	}
	retire := s.retireUpload(u)
	if !inParts(u) {
		// A replay of the PUT URL could put the object back until the URL
		// is spent: a tombstone has the sweeper delete it once more then.
		retire = s.buried(u.FileName, u.ExpiresAt.Add(s.landing()), retire)
	}
	if _, err := retire(context.WithoutCancel(ctx)); err != nil {
		// Storage is clear and the row is past its deadline: the sweeper
		// finishes.
		s.log.WarnContext(ctx, "files.abort_row_failed", "key", u.FileName, "err", err)
	}
	s.log.InfoContext(ctx, "files.upload_aborted", "key", u.FileName, "parts", inParts(u))
	s.cfg.Events.UploadsAborted(1)
	return nil
}

// removeFromStore removes what an upload may have left in the store: the
// upload in parts (with its parts), and the object, which a completed
// upload in parts or a single PUT leaves.
func (s *Service) removeFromStore(ctx context.Context, key, multipartID string) error {
	if multipartID != "" {
		mp, err := s.multipart()
		if err != nil {
			return err
		}
		if err := mp.AbortMultipart(ctx, key, multipartID); err != nil {
			return fmt.Errorf("aborting upload in parts: %w", err)
		}
	}
	if err := s.store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return err
	}
	return nil
}
