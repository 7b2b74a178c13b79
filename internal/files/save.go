package files

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

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
			refuse(i, "fileName", "%q was not issued by createUploadUrls or createMultipartUploads", r.FileName)
		case u.OriginalName != r.OriginalName:
			refuse(i, "originalName", "%q was issued for %q", r.FileName, u.OriginalName)
		case !s.saveable(u):
			refuse(i, "fileName", "%q expired at %s; upload it again with a new URL", r.FileName, s.deadline(u).UTC().Format(time.RFC3339))
		default:
			checks[i] = &check{upload: u}
		}
	}
	var g errgroup.Group
	g.SetLimit(statConcurrency)
	for _, c := range checks {
		if c != nil {
			g.Go(func() error {
				if c.upload.MultipartID != "" {
					c.obj, c.err = s.completeParts(ctx, c.upload)
				} else {
					c.obj, c.err = s.store.Stat(ctx, c.upload.FileName)
				}
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
		var r *refusal
		switch {
		case errors.As(c.err, &r):
			refuse(i, "fileName", "%q %s", reqs[i].FileName, r.msg)
			continue
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
		var bytes int64
		for _, f := range created {
			bytes += f.Size
		}
		s.cfg.Events.FilesSaved(len(created), bytes)
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
	return s.deadline(u).After(s.cfg.Now())
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
		s.saveableAt(s.cfg.Now()),
	).Exec(ctx)
	if err != nil {
		return nil, dbError("retiring uploads", err)
	}
	if retired != len(keys) {
		return nil, &InvalidError{Problems: []Problem{{Field: "files", Message: "an upload expired while saving; upload it again with a new URL"}}}
	}
	// A saved file's size is its upload's: save refuses any other.
	var bytes int64
	for _, f := range created {
		bytes += f.Size
	}
	n := int64(len(created))
	if err := addUsage(ctx, tx, user.ID, usageDelta{PendingCount: -n, PendingBytes: -bytes, SavedCount: n, SavedBytes: bytes}); err != nil {
		return nil, err
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
