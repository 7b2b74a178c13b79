package files

import (
	"context"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
)

// Delete removes a file in three steps, so that a crash at any point
// converges: it marks the row (from then on the file is gone for everyone),
// deletes the object, then the row. A process that dies in between leaves a
// marked row, and the sweeper finishes the job once DeleteGrace has passed.
// If the storage refuses, the mark is lifted and the file is back as it
// was: the client sees UNAVAILABLE and may retry.
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	f, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	// The mark takes the file out of its owner's usage, the unmark puts
	// it back; the row's final removal leaves usage alone.
	gone := ent.Usage{ID: f.Owner, SavedCount: -1, SavedBytes: -f.Size}
	err = s.inTx(ctx, "delete mark", func(tx *ent.Tx) error {
		n, err := tx.File.Update().
			Where(file.ID(id), file.DeletedAtIsNil()).
			SetDeletedAt(s.cfg.Now()).
			Save(ctx)
		switch {
		case err != nil:
			return dbError("marking file deleted", err)
		case n == 0:
			return ErrNotFound // a concurrent delete won
		}
		if err := s.addUsage(ctx, tx, gone); err != nil {
			return err
		}
		return s.record(ctx, tx, EventDeleted, f)
	})
	if err != nil {
		return err
	}
	s.cfg.Outbox.Committed()
	if err := s.store.Delete(ctx, f.FileName); err != nil {
		// The request may be ending; lifting the mark must not be cut short.
		ctx := context.WithoutCancel(ctx)
		uerr := s.inTx(ctx, "delete unmark", func(tx *ent.Tx) error {
			if err := tx.File.UpdateOneID(id).ClearDeletedAt().Exec(ctx); err != nil {
				return err
			}
			if err := s.addUsage(ctx, tx, ent.Usage{ID: f.Owner, SavedCount: 1, SavedBytes: f.Size}); err != nil {
				return err
			}
			// Its file.deleted went out with the mark: say it is back.
			return s.record(ctx, tx, EventSaved, f)
		})
		if uerr != nil {
			s.log.ErrorContext(ctx, "files.delete_unmark_failed", "id", id, "err", uerr)
		} else {
			s.cfg.Outbox.Committed()
		}
		return storageError("deleting object", err)
	}
	// An upload URL for the key may still write: S3 cannot revoke it.
	deleteRow := s.withTombstone(f.FileName, s.keyWritableUntil(f), func(ctx context.Context) (bool, error) {
		return true, s.db.File.DeleteOneID(id).Exec(ctx)
	})
	if _, err := deleteRow(context.WithoutCancel(ctx)); err != nil && !ent.IsNotFound(err) {
		// The object is gone and the row is marked: the sweeper finishes.
		s.log.WarnContext(ctx, "files.delete_row_failed", "id", id, "err", err)
	}
	s.log.InfoContext(ctx, "files.deleted", "id", id, "key", f.FileName)
	return nil
}
