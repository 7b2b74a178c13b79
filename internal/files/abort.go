package files

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/storage"
)

// AbortUpload gives up one of the caller's pending uploads: its parts or
// object leave the store, then its row goes. The row is first moved past
// its deadline, so a save racing the abort cannot commit, and an abort cut
// short (storage down, a crash) is finished by the sweeper: nothing is
// left behind either way.
func (s *Service) AbortUpload(ctx context.Context, fileName string) error {
	u, err := s.callersUpload(ctx, fileName)
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
	if err := s.removeUploadFromStore(ctx, u.FileName, u.MultipartID); err != nil {
		return storageError("aborting upload", err)
	}
	retire := s.retireUpload(u)
	if !inParts(u) {
		// A replay of the PUT URL could put the object back until the URL
		// is spent: a tombstone has the sweeper delete it once more then.
		retire = s.withTombstone(u.FileName, u.ExpiresAt.Add(s.latePutWindow()), retire)
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

// removeUploadFromStore removes what an upload may have left in the store: the
// upload in parts (with its parts), and the object, which a completed
// upload in parts or a single PUT leaves.
func (s *Service) removeUploadFromStore(ctx context.Context, key, multipartID string) error {
	if multipartID != "" {
		if err := s.store.AbortMultipart(ctx, key, multipartID); err != nil {
			return fmt.Errorf("aborting upload in parts: %w", err)
		}
	}
	if err := s.store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return err
	}
	return nil
}
