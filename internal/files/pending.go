package files

import (
	"context"
	"errors"
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

	id     ent.Cursor
	upload *ent.Upload // the row it shows
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

func (s *Service) toPending(u *ent.Upload) *PendingUpload {
	p := &PendingUpload{
		FileName:     u.FileName,
		OriginalName: u.OriginalName,
		Size:         u.Size,
		ContentType:  u.ContentType,
		Collection:   u.Collection,
		CreatedAt:    u.CreatedAt,
		ExpiresAt:    s.saveDeadline(u),
		id:           ent.Cursor{ID: u.ID},
		upload:       u,
	}
	if inParts(u) {
		p.PartSize, p.PartCount = &u.PartSize, &u.PartCount
	}
	return p
}

// Upload returns one of the caller's pending uploads, or nil when it is
// unknown, another user's, saved, or past its deadline.
func (s *Service) Upload(ctx context.Context, fileName string) (*PendingUpload, error) {
	u, err := s.callersUpload(ctx, fileName)
	switch {
	case errors.Is(err, ErrUploadNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case !s.saveable(u):
		return nil, nil
	}
	return s.toPending(u), nil
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
	mine := []predicate.Upload{upload.Owner(user.ID), s.whereSaveableAt(s.cfg.Now())}
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
		p := s.toPending(u)
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
	u := p.upload
	if !inParts(u) {
		return []*UploadedPart{}, nil
	}
	parts, err := s.store.ListParts(ctx, u.FileName, u.MultipartID)
	if errors.Is(err, storage.ErrNotExist) {
		// No longer in progress: completed if its object is there.
		switch _, err := s.store.Stat(ctx, u.FileName); {
		case errors.Is(err, storage.ErrNotExist):
			return []*UploadedPart{}, nil
		case err != nil:
			return nil, storageError("looking at completed upload", err)
		}
		out := make([]*UploadedPart, u.PartCount)
		for i := range out {
			out[i] = &UploadedPart{PartNumber: i + 1, Size: partSizeOf(u, i+1)}
		}
		return out, nil
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
