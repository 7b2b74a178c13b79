package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/storage"
)

// Reconciliation is what `filegraph reconcile` found, and with fix, did.
type Reconciliation struct {
	Objects int // objects under the key prefix
	Files   int // file rows in this bucket
	// Orphans are objects that no file and no pending upload names. No
	// request can make one (an upload's row is written before its URL is
	// handed out, and objects are deleted before rows), so they come from
	// crashes outside Filegraph's steps or from hands in the bucket.
	Orphans []string
	// Missing are files whose object is not in storage: listed, but their
	// download fails.
	Missing []MissingFile
	// StrayUploads are uploads in parts in progress in the store that no
	// row knows: a crash between starting one and writing its row, or
	// hands in the bucket. They hold parts no one can save.
	StrayUploads []storage.MultipartUpload
	// OtherBuckets counts files saved in another bucket; they are not
	// checked against this one.
	OtherBuckets int
	Fixed        bool
}

// MissingFile is a file row without its object.
type MissingFile struct {
	ID       string
	FileName string
	Owner    string
}

// Reconcile compares storage with the database. With fix it deletes the
// orphaned objects, and the rows of files whose objects are gone (there is
// nothing left to download; the row only promises a file that is not
// there). Both repairs are safe: neither removes anything a client could
// still reach.
//
// Storage is listed before the rows are read: an upload issued meanwhile
// then has its row read, and is not taken for an orphan. A file saved
// meanwhile may look missing from the listing, so every missing object is
// looked at again before it is reported.
func (s *Service) Reconcile(ctx context.Context, fix bool) (r *Reconciliation, err error) {
	defer func() { s.cfg.Events.Reconciled(r, err) }()
	objects := map[string]bool{}
	for _, prefix := range keyPrefixes {
		if err := s.store.List(ctx, prefix, func(key string) error { objects[key] = true; return nil }); err != nil {
			return nil, storageError("listing objects", err)
		}
	}
	var inProgress []storage.MultipartUpload
	for _, prefix := range keyPrefixes {
		err := s.store.ListMultipart(ctx, prefix, func(u storage.MultipartUpload) error {
			inProgress = append(inProgress, u)
			return nil
		})
		if err != nil {
			return nil, storageError("listing uploads in parts", err)
		}
	}
	files, err := s.db.File.Query().All(ctx)
	if err != nil {
		return nil, dbError("reading files", err)
	}
	uploads, err := s.db.Upload.Query().All(ctx)
	if err != nil {
		return nil, dbError("reading uploads", err)
	}
	// A file with a job may own its twin object too: a held file's public
	// copy, made just before its release is recorded, or a released
	// file's held object, deleted just after; the job's next run settles.
	working, err := s.db.Job.Query().Select(job.FieldFileID).Strings(ctx)
	if err != nil {
		return nil, dbError("reading jobs", err)
	}
	withJob := make(map[string]bool, len(working))
	for _, id := range working {
		withJob[id] = true
	}
	r = &Reconciliation{Objects: len(objects)}
	known := make(map[string]bool, len(files)+len(uploads))
	knownParts := make(map[string]bool)
	for _, u := range uploads {
		known[u.FileName] = true
		if inParts(u) {
			knownParts[u.MultipartID] = true
		}
	}
	// A store upload is started just before its row is written: one that
	// young may have its row in flight, so it is left for the next run.
	young := s.cfg.Now().Add(-s.cfg.DeleteGrace - s.cfg.ClockSkew)
	for _, u := range inProgress {
		if !knownParts[u.UploadID] && u.Initiated.Before(young) {
			r.StrayUploads = append(r.StrayUploads, u)
		}
	}
	// Variants' objects are their rows' (a file's delete removes both);
	// one a variants run put and has not recorded yet is its file's while
	// the file has a job.
	variants, err := s.db.FileVariant.Query().Select(filevariant.FieldFileName).Strings(ctx)
	if err != nil {
		return nil, dbError("reading variants", err)
	}
	for _, key := range variants {
		known[key] = true
	}
	var making []string
	var missing []MissingFile
	for _, f := range files {
		if f.Bucket != s.store.Bucket() {
			r.OtherBuckets++
			continue
		}
		r.Files++
		if !ownsObject(f) {
			continue // an INFECTED file's object was deleted: one left is an orphan
		}
		known[f.FileName] = true
		if t := twinKey(f.FileName); t != "" && (withJob[f.ID.String()] || f.DeletedAt != nil) {
			known[t] = true // a marked file's delete removes both
		}
		if withJob[f.ID.String()] && f.DeletedAt == nil {
			making = append(making, variantPrefix(f))
		}
		if !objects[f.FileName] && f.DeletedAt == nil {
			missing = append(missing, MissingFile{ID: f.ID.String(), FileName: f.FileName, Owner: f.Owner})
		}
	}
	for key := range objects {
		if !known[key] && !slices.ContainsFunc(making, func(p string) bool { return strings.HasPrefix(key, p) }) {
			r.Orphans = append(r.Orphans, key)
		}
	}
	for _, m := range missing {
		switch _, err := s.store.Stat(ctx, m.FileName); {
		case errors.Is(err, storage.ErrNotExist):
			r.Missing = append(r.Missing, m)
		case err != nil:
			return nil, storageError("checking "+m.FileName, err)
		}
	}
	if !fix {
		return r, nil
	}
	for _, key := range r.Orphans {
		if err := s.store.Delete(ctx, key); err != nil {
			return r, storageError("deleting orphan "+key, err)
		}
	}
	for _, u := range r.StrayUploads {
		if err := s.store.AbortMultipart(ctx, u.Key, u.UploadID); err != nil {
			return r, storageError("aborting stray upload "+u.Key, err)
		}
	}
	for _, m := range r.Missing {
		err := s.inTx(ctx, "reconcile", func(tx *ent.Tx) error {
			f, err := tx.File.Query().Where(file.FileName(m.FileName), file.DeletedAtIsNil()).Only(ctx)
			if ent.IsNotFound(err) {
				return nil // deleted meanwhile
			}
			if err != nil {
				return err
			}
			vs, err := tx.FileVariant.Query().Where(filevariant.FileID(f.ID)).All(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.FileVariant.Delete().Where(filevariant.FileID(f.ID)).Exec(ctx); err != nil {
				return err
			}
			n, err := tx.File.Delete().Where(file.ID(f.ID), file.DeletedAtIsNil()).Exec(ctx)
			if err != nil || n == 0 {
				return err
			}
			// Its variants' objects are orphans from now: the next run's.
			bytes := f.Size
			for _, v := range vs {
				bytes += v.Size
			}
			if err := s.addUsage(ctx, tx, ent.Usage{ID: f.Owner, SavedCount: -1, SavedBytes: -bytes, FileWrites: 1}); err != nil {
				return err
			}
			if err := s.addFolders(ctx, tx, folderDeltas(-1, f)); err != nil {
				return err
			}
			return s.record(ctx, tx, EventDeleted, f)
		})
		if err != nil {
			return r, dbError(fmt.Sprintf("deleting row of %s", m.FileName), err)
		}
		s.cfg.Outbox.Committed()
	}
	r.Fixed = true
	s.log.InfoContext(ctx, "reconcile.fixed", "orphans", len(r.Orphans), "missing", len(r.Missing), "stray_uploads", len(r.StrayUploads))
	return r, nil
}
