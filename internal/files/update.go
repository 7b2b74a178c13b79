package files

import (
	"context"
	"errors"
	"maps"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/schema"
)

// errUpdateRaced: the row changed between the read and the update.
var errUpdateRaced = errors.New("file changed meanwhile")

// UpdateFileInput changes a saved file's name, folder or metadata; each
// field given replaces the file's, each left out (null) keeps it.
type UpdateFileInput struct {
	OriginalName *string
	Folder       *string
	Metadata     schema.Metadata
}

// UpdateFile renames a file (downloads then carry the new name), moves it
// to another folder, or replaces its metadata, under the rules of an
// upload. It touches no object: the key holds neither name nor folder.
func (s *Service) UpdateFile(ctx context.Context, id uuid.UUID, in UpdateFileInput) (*ent.File, error) {
	var ps problems
	var folder string
	if in.OriginalName != nil {
		if msg := checkName(*in.OriginalName); msg != "" {
			ps.add("input.originalName", "%s", msg)
		}
	}
	if in.Folder != nil {
		var msg string
		if folder, msg = normalizeFolder(*in.Folder); msg != "" {
			ps.add("input.folder", "%s", msg)
		}
	}
	if in.Metadata != nil {
		ps.checkMetadata("input.metadata", in.Metadata)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	_, scope, err := s.visibleToCaller(ctx)
	if err != nil {
		return nil, err
	}
	var updated *ent.File
	// A concurrent move of the same file changes the folder this one counts
	// it out of: the update holds only while the row is as read, and a
	// lost race reads it again.
	for attempt := 0; ; attempt++ {
		err = s.inTx(ctx, "update", func(tx *ent.Tx) error {
			f, err := tx.File.Query().Where(file.ID(id), scope).Only(ctx)
			if ent.IsNotFound(err) {
				return ErrNotFound
			}
			if err != nil {
				return dbError("reading file", err)
			}
			up := tx.File.UpdateOneID(id).Where(file.DeletedAtIsNil(), file.Folder(f.Folder))
			if in.OriginalName != nil {
				up.SetOriginalName(*in.OriginalName)
			}
			if in.Folder != nil {
				up.SetFolder(folder)
			}
			if in.Metadata != nil {
				up.SetMetadata(in.Metadata)
			}
			updated, err = up.Save(ctx)
			if ent.IsNotFound(err) {
				return errUpdateRaced
			}
			if err != nil {
				return dbError("updating file", err)
			}
			moved := in.Folder != nil && folder != f.Folder
			changed := in.Metadata != nil && !maps.Equal(in.Metadata, f.Metadata)
			if moved || changed {
				// Filtered counts kept by any replica are stale from the
				// commit. The usage row first, as a save locks it before
				// the folders' rows.
				if err := s.addUsage(ctx, tx, ent.Usage{ID: f.Owner, FileWrites: 1}); err != nil {
					return err
				}
			}
			if changed {
				if err := replacePairs(ctx, tx, updated); err != nil {
					return err
				}
			}
			if moved {
				if err := s.moveInFolders(ctx, tx, f, folder); err != nil {
					return err
				}
			}
			return s.fileUpdated(ctx, tx, updated)
		})
		if err != errUpdateRaced {
			break
		}
		if attempt == 2 {
			return nil, ErrNotFound // deleted meanwhile, or moved over and over
		}
	}
	if err != nil {
		return nil, err
	}
	s.cfg.Outbox.Committed()
	s.log.InfoContext(ctx, "files.updated", "id", id)
	return updated, nil
}
