package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/metadatapair"
	"github.com/filegraph/filegraph/ent/predicate"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// Saves writes a save's transaction in one round trip, where ent's
// statements take five: internal/database implements it for PostgreSQL.
// nil: through ent (SQLite, whose writers take turns, and a service
// built by tests).
type Saves interface {
	// Save, in one transaction: inserts fs, as ent's builders would (its
	// defaults, set on fs, and its checks), with their metadata pairs;
	// deletes the uploads retire selects, which must number exactly
	// retired (ErrUploadsGone otherwise); adds us and ds and writes evs as
	// countsEventsCommit does; and commits. A file whose key a file has
	// already is ErrKeyTaken. Nothing is written on an error.
	Save(ctx context.Context, fs []*ent.File, retire predicate.Upload, retired int, us []ent.Usage, ds []FolderDelta, evs []NewEvent) error
}

// Saves' errors.
var (
	// ErrKeyTaken: a concurrent save of the same key won; Save retries.
	ErrKeyTaken = errors.New("files: a file has the key already")
	// ErrUploadsGone: an upload expired, or was swept, while saving.
	ErrUploadsGone = errors.New("files: an upload is no longer there to save")
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
	files, err := s.saveOnce(ctx, reqs)
	if ent.IsConstraintError(err) || errors.Is(err, ErrKeyTaken) {
		// A concurrent save of the same key won; now it is saved, and the
		// retry returns it.
		files, err = s.saveOnce(ctx, reqs)
	}
	return files, err
}

// saveOnce finds what each key is (findUploadsAndFiles), refuses what the
// rows rule out (refuseByRows), looks at the rest in storage
// (verifyInStorage), and saves them all (recordSaved), or refuses the call
// naming every problem.
func (s *Service) saveOnce(ctx context.Context, reqs []*SaveRequest) ([]*ent.File, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := checkSaveRequests(reqs)
	if err != nil {
		return nil, err
	}
	items, err := s.findUploadsAndFiles(ctx, user, reqs, keys)
	if err != nil {
		return nil, err
	}
	s.refuseByRows(items)
	if err := s.verifyInStorage(ctx, items); err != nil {
		return nil, err
	}
	var ps problems
	for _, it := range items {
		if it.problem != nil {
			ps = append(ps, *it.problem)
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := s.recordSaved(ctx, user, items); err != nil {
		return nil, err
	}
	out := make([]*ent.File, len(items))
	for i, it := range items {
		out[i] = it.saved
	}
	return out, nil
}

// saving is one request as save works through it.
type saving struct {
	index   int
	req     *SaveRequest
	saved   *ent.File   // saved already (returned again), or by this call
	upload  *ent.Upload // issued and not yet saved
	obj     storage.Object
	problem *Problem // at most one per request
}

func (it *saving) refuse(field, format string, args ...any) {
	it.problem = &Problem{Field: fmt.Sprintf("files[%d].%s", it.index, field), Message: fmt.Sprintf(format, args...)}
}

// toSave reports whether the request still needs its object saved.
func (it *saving) toSave() bool { return it.problem == nil && it.saved == nil && it.upload != nil }

// findUploadsAndFiles finds each key among the caller's uploads and saved files. Only
// the caller's own count, admin or not: a key issued to someone else reads
// as never issued. Uploads first: a concurrent save that commits between
// the two reads then shows up as saved, not as never issued.
func (s *Service) findUploadsAndFiles(ctx context.Context, user auth.User, reqs []*SaveRequest, keys []string) ([]*saving, error) {
	pending, err := s.db.Upload.Query().Where(upload.FileNameIn(keys...), upload.Owner(user.ID)).All(ctx)
	if err != nil {
		return nil, dbError("looking up uploads", err)
	}
	items := make([]*saving, len(reqs))
	byKey := make(map[string]*saving, len(reqs))
	for i, r := range reqs {
		items[i] = &saving{index: i, req: r}
		byKey[r.FileName] = items[i]
	}
	for _, u := range pending {
		byKey[u.FileName].upload = u
	}
	if len(pending) == len(keys) {
		// Every key is still an upload, so none is a saved file: a save
		// deletes the upload in the transaction that writes the file. A
		// save that commits after this read makes this call's insert fail
		// on file_name's uniqueness, and Save's retry reads both again.
		return items, nil
	}
	// A held file found clean has its public key since (twinKey): a
	// retry of its save names the key it was issued.
	names := keys
	for _, k := range keys {
		if isHeld(k) {
			names = append(slices.Clip(names), twinKey(k))
		}
	}
	saved, err := s.db.File.Query().Where(file.FileNameIn(names...), file.Owner(user.ID), file.DeletedAtIsNil()).All(ctx)
	if err != nil {
		return nil, dbError("looking up saved files", err)
	}
	for _, f := range saved {
		if it := byKey[f.FileName]; it != nil {
			it.saved = f
		} else if it := byKey[twinKey(f.FileName)]; it != nil && isHeld(it.req.FileName) {
			it.saved = f
		}
	}
	return items, nil
}

// refuseByRows refuses what the rows alone rule out: a name other than the one
// announced, a key never issued, an upload past its save window.
func (s *Service) refuseByRows(items []*saving) {
	for _, it := range items {
		r, u := it.req, it.upload
		switch {
		case it.saved != nil:
			if it.saved.OriginalName != r.OriginalName {
				it.refuse("originalName", "%q was saved as %q", r.FileName, it.saved.OriginalName)
			}
		case u == nil:
			it.refuse("fileName", "%q was not issued by createUploadUrls or createMultipartUploads", r.FileName)
		case u.OriginalName != r.OriginalName:
			it.refuse("originalName", "%q was issued for %q", r.FileName, u.OriginalName)
		case !s.saveable(u):
			it.refuse("fileName", "%q expired at %s; upload it again with a new URL", r.FileName, s.saveDeadline(u).UTC().Format(time.RFC3339))
		}
	}
}

// verifyInStorage looks at the objects of the uploads still to save, concurrently (on
// S3 each look is a round trip), and refuses those missing or unlike their
// announcement. An upload in parts is completed first (completeParts). It
// fails only when the storage does not answer.
func (s *Service) verifyInStorage(ctx context.Context, items []*saving) error {
	var g errgroup.Group
	g.SetLimit(storageConcurrency)
	for _, it := range items {
		if !it.toSave() {
			continue
		}
		g.Go(func() error {
			var obj storage.Object
			var err error
			if inParts(it.upload) {
				obj, err = s.completeParts(ctx, it.upload)
			} else {
				obj, err = s.store.Stat(ctx, it.upload.FileName)
			}
			var r *refusal
			switch {
			case errors.As(err, &r):
				it.refuse("fileName", "%q %s", it.req.FileName, r.msg)
			case errors.Is(err, storage.ErrNotExist):
				it.refuse("fileName", "%q has not been uploaded", it.req.FileName)
			case err != nil:
				return storageError("checking upload", err)
			case mismatch(it.upload, obj) != "":
				it.refuse("fileName", "%q %s", it.req.FileName, mismatch(it.upload, obj))
			default:
				it.obj = obj
			}
			return nil
		})
	}
	return g.Wait()
}

// storageConcurrency bounds the storage calls that one save, one start of
// uploads in parts or one sweep batch makes at once.
const storageConcurrency = 8

// recordSaved saves the items still to save: it creates their files and retires
// their uploads atomically, and sets each item's saved file. An upload the
// sweeper took meanwhile is no longer there to retire, and the whole save is
// refused rather than saving a file whose object is going away.
func (s *Service) recordSaved(ctx context.Context, user auth.User, items []*saving) (err error) {
	var todo []*saving
	for _, it := range items {
		if it.toSave() {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	sv := s.writesOf(user, todo)
	needsJobs := slices.ContainsFunc(sv.files, func(f *ent.File) bool { _, ok := s.jobFor(f); return ok })
	if s.cfg.Saves != nil && s.cfg.Outbox != (noOutbox{}) && !s.webhooksTake(EventSaved) && !needsJobs {
		err = s.saveInOne(ctx, sv)
	} else {
		err = s.saveThroughEnt(ctx, sv)
	}
	if err != nil {
		return err
	}
	created := sv.files
	s.cfg.Outbox.Committed()
	s.wakeJobs()
	for i, it := range todo {
		it.saved = created[i]
	}
	s.log.InfoContext(ctx, "files.saved", "count", len(created))
	s.cfg.Events.FilesSaved(len(created), sv.bytes)
	return nil
}

// toWrite is what a save writes: the files (as ent returns them once
// written), the keys of the uploads they retire, the bytes they hold, and
// what retires those uploads and adds to the user's usage.
type toWrite struct {
	files  []*ent.File
	keys   []string
	bytes  int64
	retire predicate.Upload
	usage  ent.Usage
}

// writesOf is what saving todo for user writes.
func (s *Service) writesOf(user auth.User, todo []*saving) *toWrite {
	w := &toWrite{files: make([]*ent.File, len(todo)), keys: make([]string, len(todo))}
	for i, it := range todo {
		contentType := it.obj.ContentType
		if contentType == "" {
			contentType = it.upload.ContentType
		}
		w.files[i] = &ent.File{
			ID:           file.DefaultID(),
			Bucket:       s.store.Bucket(),
			FileName:     it.upload.FileName,
			OriginalName: it.upload.OriginalName,
			Size:         it.obj.Size,
			ContentType:  contentType,
			CreatedAt:    file.DefaultCreatedAt(),
			Owner:        user.ID,
			Collection:   it.upload.Collection,
			Folder:       it.upload.Folder,
			Metadata:     it.upload.Metadata,
			Status:       s.savedStatus(it.obj.Size),
		}
		w.keys[i] = it.upload.FileName
		// A saved file's size is its upload's: verifyInStorage refuses any other.
		w.bytes += it.obj.Size
	}
	w.retire = upload.And(upload.FileNameIn(w.keys...), upload.Owner(user.ID), s.whereSaveableAt(s.cfg.Now()))
	n := int64(len(w.files))
	w.usage = ent.Usage{ID: user.ID, PendingCount: -n, PendingBytes: -w.bytes, SavedCount: n, SavedBytes: w.bytes, FileWrites: 1}
	return w
}

// uploadExpired refuses a save whose upload expired, or was swept, while
// it saved.
func uploadExpired() error {
	return &InvalidError{Problems: []Problem{{Field: "files", Message: "an upload expired while saving; upload it again with a new URL"}}}
}

// saveInOne writes w through Saves: one round trip.
func (s *Service) saveInOne(ctx context.Context, w *toWrite) error {
	evs, err := s.newEvents(EventSaved, w.files)
	if err != nil {
		return err
	}
	err = s.cfg.Saves.Save(ctx, w.files, w.retire, len(w.keys), []ent.Usage{w.usage}, folderDeltas(1, w.files...), evs)
	switch {
	case errors.Is(err, ErrKeyTaken):
		return err // a concurrent save of a key won; Save retries
	case errors.Is(err, ErrUploadsGone):
		return uploadExpired()
	case err != nil:
		return dbError("saving files", err)
	}
	return nil
}

// saveThroughEnt writes w in a transaction through ent, with the jobs its
// files need; w.files become the rows ent returns.
func (s *Service) saveThroughEnt(ctx context.Context, w *toWrite) error {
	return s.inTx(ctx, "save", func(tx *ent.Tx) error {
		builders := make([]*ent.FileCreate, len(w.files))
		for i, f := range w.files {
			builders[i] = tx.File.Create().SetID(f.ID).SetBucket(f.Bucket).SetFileName(f.FileName).SetOriginalName(f.OriginalName).
				SetSize(f.Size).SetContentType(f.ContentType).SetCreatedAt(f.CreatedAt).SetOwner(f.Owner).SetCollection(f.Collection).
				SetFolder(f.Folder).SetMetadata(f.Metadata).SetStatus(f.Status)
		}
		created, err := tx.File.CreateBulk(builders...).Save(ctx)
		if err != nil {
			if ent.IsConstraintError(err) {
				return err // a concurrent save of a key won; Save retries
			}
			return dbError("saving files", err)
		}
		w.files = created
		if err := writePairs(ctx, tx, created...); err != nil {
			return err
		}
		retired, err := tx.Upload.Delete().Where(w.retire).Exec(ctx)
		if err != nil {
			return dbError("retiring uploads", err)
		}
		if retired != len(w.keys) {
			return uploadExpired()
		}
		if jobs := s.jobsFor(tx, created); len(jobs) > 0 {
			if err := tx.Job.CreateBulk(jobs...).Exec(ctx); err != nil {
				return dbError("writing jobs", err)
			}
		}
		return s.countAndRecord(ctx, tx, []ent.Usage{w.usage}, folderDeltas(1, created...), EventSaved, created...)
	})
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
		if msg := checkText(r.FileName); msg != "" || len(r.FileName) > 1024 {
			// Never a key NewKey makes; the database need not be asked.
			ps.add(fmt.Sprintf("files[%d].fileName", i), "%q was not issued by createUploadUrls", r.FileName)
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

// pairsPerInsert bounds one insert of metadata pairs (5 parameters each)
// well below the databases' parameter limits.
const pairsPerInsert = 1000

// writePairs records each file's metadata as the rows the listing's
// metadata filter reads (metadata_pairs), in the transaction that saves
// the files or replaces their metadata; a file's rows go with it (ON DELETE
// CASCADE).
func writePairs(ctx context.Context, tx *ent.Tx, files ...*ent.File) error {
	var pairs []*ent.MetadataPairCreate
	for _, f := range files {
		for k, v := range f.Metadata {
			pairs = append(pairs, tx.MetadataPair.Create().
				SetFileID(f.ID).SetOwner(f.Owner).SetKey(k).SetValue(v).SetCreatedAt(f.CreatedAt))
		}
	}
	for chunk := range slices.Chunk(pairs, pairsPerInsert) {
		if err := tx.MetadataPair.CreateBulk(chunk...).Exec(ctx); err != nil {
			return dbError("writing metadata pairs", err)
		}
	}
	return nil
}

// replacePairs replaces a file's metadata pairs with its metadata's now.
func replacePairs(ctx context.Context, tx *ent.Tx, f *ent.File) error {
	if _, err := tx.MetadataPair.Delete().Where(metadatapair.FileID(f.ID)).Exec(ctx); err != nil {
		return dbError("deleting metadata pairs", err)
	}
	return writePairs(ctx, tx, f)
}
