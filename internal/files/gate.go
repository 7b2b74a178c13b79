package files

import (
	"context"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/storage"
)

var _ storage.Gate = (*Service)(nil).PutGate

// PutGate is the storage.Gate: an upload (or a part of one) may land
// while it is issued and not saved, until its deadline: its URL's expiry
// plus the save window, or for an upload in parts its own expiry. The
// sweeper waits ClockSkew longer than that, so a PUT that the gate lets in
// is kept before the sweeper can look at its upload. It names the upload's
// owner, whom the store counts the PUT against.
func (s *Service) PutGate(ctx context.Context, key string) (storage.Pending, error) {
	u, err := s.db.Upload.Query().Where(upload.FileName(key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return storage.Pending{}, nil
	case err != nil:
		return storage.Pending{}, dbError("looking up upload", err)
	}
	until := s.saveDeadline(u)
	if !s.cfg.Now().Before(until) {
		return storage.Pending{}, nil
	}
	// As a time on the store's clock, which tests do not move.
	return storage.Pending{Until: time.Now().Add(until.Sub(s.cfg.Now())), Owner: u.Owner}, nil
}

// PublicGate says whether the public object at key may be served: its file
// is saved, not being deleted, and the scan gate lets it out (servable);
// or it is such a file's variant.
// A store that serves public keys itself asks it (storage.PublicGate).
func (s *Service) PublicGate(ctx context.Context, key string) (bool, error) {
	f, err := s.db.File.Query().Where(file.FileName(key), file.DeletedAtIsNil()).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return s.publicVariant(ctx, key)
	case err != nil:
		return false, dbError("looking up file", err)
	}
	return s.servable(f) == nil, nil
}

// publicVariant says whether key is a public file's variant, served as its
// file is.
func (s *Service) publicVariant(ctx context.Context, key string) (bool, error) {
	v, err := s.db.FileVariant.Query().Where(filevariant.FileName(key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, dbError("looking up variant", err)
	}
	f, err := s.db.File.Query().Where(file.ID(v.FileID), file.DeletedAtIsNil()).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, dbError("looking up file", err)
	}
	return s.servable(f) == nil, nil
}
