package files

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/ent/tombstone"
)

// MaxDeletesPerCall bounds deleteFiles.
const MaxDeletesPerCall = 100

// NotFoundError names the ids of a call that no file the caller may see
// has; it is an ErrNotFound.
type NotFoundError struct {
	IDs []uuid.UUID
}

func (e *NotFoundError) Error() string {
	ids := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = id.String()
	}
	return fmt.Sprintf("no file you may see has the id %s; nothing was deleted", strings.Join(ids, ", "))
}

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Delete removes one file; see deleteAll. With Deletes (PostgreSQL) and
// no webhook taking file.deleted, its mark is one of a batch's (markOne);
// otherwise the file is read, then marked as a batch's are.
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	if s.cfg.Deletes != nil && !s.webhooksTake(EventDeleted) {
		owner, err := ownerInScope(ctx)
		if err != nil {
			return err
		}
		f, variants, err := s.markOne(ctx, Mark{ID: id, Owner: owner})
		if err != nil {
			return err
		}
		return s.finishDeletes(ctx, []*ent.File{f}, variants)
	}
	f, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.deleteAll(ctx, []*ent.File{f})
}

// Deletes marks files deleted, and removes a marked file's row, in fewer
// round trips than ent's statements take: internal/database implements it
// for PostgreSQL. nil: through ent (SQLite, whose writers take turns, and
// a service built by tests).
type Deletes interface {
	// MarkMany begins a transaction and, in one round trip, marks deleted
	// at `at` each file of ms that is there, not being deleted and in its
	// mark's scope, deletes their jobs, then reads their variants' rows by
	// a statement of its own, after the jobs' delete (a variants run that
	// ended its job first has committed its rows by then; one that did not
	// finds its job gone and discards). It returns the rows as marked, in
	// no particular order, their variants by file in the order they were
	// recorded, and the open transaction; no files, with nothing written
	// and no transaction, when none was there to mark.
	MarkMany(ctx context.Context, ms []Mark, at time.Time) ([]*ent.File, map[uuid.UUID][]*ent.FileVariant, MarkTx, error)
	// RemoveRows deletes marked files' rows, with the variants' rows of
	// those of withVariants, in one round trip, and reports which were
	// there. Its commit need not be durable before it returns: a row whose
	// removal a crash lost stays marked, and the sweeper removes it.
	RemoveRows(ctx context.Context, ids, withVariants []uuid.UUID) (map[uuid.UUID]bool, error)
}

// Mark is a file MarkMany marks: the file id, if its owner is Owner (any
// owner's for "").
type Mark struct {
	ID    uuid.UUID
	Owner string
}

// MarkTx is MarkMany's transaction.
type MarkTx interface {
	// Commit writes the tombstones ts, then us and ds and the events evs
	// as countsEventsCommit does, and commits, in one round trip. The
	// transaction ends either way: rolled back on an error.
	Commit(ctx context.Context, ts []Tombstone, us []ent.Usage, ds []FolderDelta, evs []NewEvent) error
	// Rollback ends it, writing nothing.
	Rollback()
}

// Tombstone is a key an upload URL may still write to until Until, which
// the sweeper deletes once more after that (ent/schema/tombstone.go).
type Tombstone struct {
	Key   string
	Until time.Time
}

// webhooksTake reports whether some webhook takes events of typ: their
// deliveries then need the events' ids, written after them.
func (s *Service) webhooksTake(typ string) bool {
	return slices.ContainsFunc(s.cfg.Webhooks, func(w Webhook) bool { return w.takes(typ) })
}

// markBatch is deleteAll's mark for the files of concurrent deleteFile
// calls, through Deletes: the marks in scope, the jobs' cancel and the
// variants' read in one round trip, the tombstones, usage, folder counts,
// events and the commit in a second. A file another user owns, one being
// deleted and a missing one are all ErrNotFound to their call, as Get has
// them; an error of the batch's is every call's.
func (s *Service) markBatch(ctx context.Context, calls []*markCall) {
	ms := make([]Mark, len(calls))
	for i, c := range calls {
		ms[i] = c.mark
	}
	fs, variants, err := s.commitMarks(ctx, ms)
	byID := make(map[uuid.UUID]*ent.File, len(fs))
	for _, f := range fs {
		byID[f.ID] = f
	}
	for _, c := range calls {
		// A file two calls of the batch name is the first one's.
		switch f := byID[c.mark.ID]; {
		case err != nil:
			c.err = err
		case f == nil || c.mark.Owner != "" && f.Owner != c.mark.Owner:
			c.err = ErrNotFound
		default:
			delete(byID, f.ID)
			c.file = f
			if vs := variants[f.ID]; len(vs) > 0 {
				c.variants = map[uuid.UUID][]*ent.FileVariant{f.ID: vs}
			}
		}
	}
}

// commitMarks marks the files of ms and commits their mark.
func (s *Service) commitMarks(ctx context.Context, ms []Mark) ([]*ent.File, map[uuid.UUID][]*ent.FileVariant, error) {
	fs, variants, tx, err := s.cfg.Deletes.MarkMany(ctx, ms, s.cfg.Now())
	if err != nil {
		return nil, nil, dbError("marking files deleted", err)
	}
	if len(fs) == 0 {
		return nil, nil, nil
	}
	us := usageDeltas(-1, fs)
	addVariantBytes(us, -1, fs, variants)
	evs, err := s.newEvents(EventDeleted, fs)
	if err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	if err := tx.Commit(ctx, s.tombstones(fs), us, folderDeltas(-1, fs...), evs); err != nil {
		return nil, nil, dbError("updating usage and folder counts, writing tombstones and events and committing the mark", err)
	}
	s.cfg.Outbox.Committed()
	return fs, variants, nil
}

// DeleteFiles removes up to MaxDeletesPerCall files, all of them, as
// Delete does each. An id the caller may not see refuses the call before
// anything is deleted, with a *NotFoundError naming every such id. It
// returns the ids deleted, once each, in the order given.
func (s *Service) DeleteFiles(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	var ps problems
	switch {
	case len(ids) == 0:
		ps.add("ids", "must list at least one id")
	case len(ids) > MaxDeletesPerCall:
		ps.add("ids", "lists %d ids, at most %d are allowed in one call", len(ids), MaxDeletesPerCall)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	var unique []uuid.UUID
	for _, id := range ids {
		if !slices.Contains(unique, id) {
			unique = append(unique, id)
		}
	}
	_, scope, err := s.visibleToCaller(ctx)
	if err != nil {
		return nil, err
	}
	found, err := s.db.File.Query().Where(file.IDIn(unique...), scope).All(ctx)
	if err != nil {
		return nil, dbError("reading files", err)
	}
	byID := make(map[uuid.UUID]*ent.File, len(found))
	for _, f := range found {
		byID[f.ID] = f
	}
	fs := make([]*ent.File, 0, len(unique))
	var missing []uuid.UUID
	for _, id := range unique {
		if f := byID[id]; f != nil {
			fs = append(fs, f)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, &NotFoundError{IDs: missing}
	}
	if err := s.deleteAll(ctx, fs); err != nil {
		return nil, err
	}
	return unique, nil
}

// deleteAll removes files in three steps, so that a crash at any point
// converges: it marks their rows in one transaction (from then on the
// files are gone for everyone; their tombstones are written with it),
// deletes their objects, then the rows. A
// process that dies in between leaves marked rows, and the sweeper
// finishes the job once DeleteGrace has passed. If the storage refuses an
// object, that file's mark is lifted and it is back as it was; the
// client sees UNAVAILABLE naming it and may retry.
func (s *Service) deleteAll(ctx context.Context, fs []*ent.File) error {
	ids := make([]uuid.UUID, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	// The mark takes the files out of their owners' usage and folders, the
	// unmark puts them back; the rows' final removal leaves both alone.
	var variants map[uuid.UUID][]*ent.FileVariant
	err := s.inTx(ctx, "delete mark", func(tx *ent.Tx) error {
		n, err := tx.File.Update().
			Where(file.IDIn(ids...), file.DeletedAtIsNil()).
			SetDeletedAt(s.cfg.Now()).
			Save(ctx)
		switch {
		case err != nil:
			return dbError("marking files deleted", err)
		case n != len(fs):
			return ErrNotFound // a concurrent delete won; this one rolls back
		}
		// Their jobs are cancelled: a run under way finds its file gone and
		// records nothing.
		if _, err := tx.Job.Delete().Where(job.FileIDIn(ids...)).Exec(ctx); err != nil {
			return dbError("cancelling jobs", err)
		}
		// An upload URL for a key may still write (S3 cannot revoke it): the
		// sweeper deletes such keys once more when none can. Written with the
		// mark, not after the objects' deletes, it needs no commit of its own
		// and covers a late PUT from the mark on; the unmark takes it back.
		if ts := s.tombstonesFor(tx, fs); len(ts) > 0 {
			if err := tx.Tombstone.CreateBulk(ts...).Exec(ctx); err != nil {
				return dbError("recording tombstones", err)
			}
		}
		// After the jobs: a variants run that ended its job first has
		// committed its rows by now, and one that did not discards.
		if variants, err = variantsByFile(ctx, tx.FileVariant, ids); err != nil {
			return err
		}
		us := usageDeltas(-1, fs)
		addVariantBytes(us, -1, fs, variants)
		// Last, as the usage rows stay locked from here to the commit.
		return s.countAndRecord(ctx, tx, us, folderDeltas(-1, fs...), EventDeleted, fs...)
	})
	if err != nil {
		return err
	}
	s.cfg.Outbox.Committed()
	return s.finishDeletes(ctx, fs, variants)
}

// finishDeletes is deleteAll after the mark's commit: the objects, then
// the rows; the marks of files whose objects the storage refused are
// lifted.
func (s *Service) finishDeletes(ctx context.Context, fs []*ent.File, variants map[uuid.UUID][]*ent.FileVariant) error {
	failed := make([]error, len(fs))
	var g errgroup.Group
	g.SetLimit(storageConcurrency)
	for i, f := range fs {
		g.Go(func() error {
			// Its variants first: one left behind while the file is back
			// is made again. Its public copy too, for a file the scan held
			// (objectKeys).
			for _, key := range append(variantKeys(variants[f.ID]), objectKeys(f.FileName)...) {
				if err := s.store.Delete(ctx, key); err != nil {
					failed[i] = err
					return nil
				}
			}
			if _, err := s.removeRow(context.WithoutCancel(ctx), f.ID, variants[f.ID]); err != nil {
				// The object is gone and the row is marked: the sweeper finishes.
				s.log.WarnContext(ctx, "files.delete_row_failed", "id", f.ID, "err", err)
			}
			s.log.InfoContext(ctx, "files.deleted", "id", f.ID, "key", f.FileName)
			return nil
		})
	}
	g.Wait()
	var back []*ent.File
	var first error
	for i, err := range failed {
		if err != nil {
			back = append(back, fs[i])
			if first == nil {
				first = err
			}
		}
	}
	if len(back) == 0 {
		return nil
	}
	// The request may be ending; lifting the marks must not be cut short.
	uctx := context.WithoutCancel(ctx)
	backIDs := make([]uuid.UUID, len(back))
	for i, f := range back {
		backIDs[i] = f.ID
	}
	uerr := s.inTx(uctx, "delete unmark", func(tx *ent.Tx) error {
		if err := tx.File.Update().Where(file.IDIn(backIDs...)).ClearDeletedAt().Exec(uctx); err != nil {
			return err
		}
		// Their keys are live again: no tombstone may delete them later.
		var keys []string
		for _, f := range back {
			keys = append(keys, objectKeys(f.FileName)...)
		}
		if _, err := tx.Tombstone.Delete().Where(tombstone.FileNameIn(keys...)).Exec(uctx); err != nil {
			return err
		}
		if err := s.countFiles(uctx, tx, 1, back); err != nil {
			return err
		}
		us := usageDeltas(0, back)
		addVariantBytes(us, 1, back, variants)
		for _, u := range us {
			if u.SavedBytes == 0 {
				continue
			}
			if err := s.addUsage(uctx, tx, u); err != nil {
				return err
			}
		}
		// Their cancelled scans and variants are needed again (variants stored
		// at fixed keys: made anew, their rows replaced).
		if jobs := s.jobsFor(tx, back); len(jobs) > 0 {
			if err := tx.Job.CreateBulk(jobs...).Exec(uctx); err != nil {
				return err
			}
		}
		// Their file.deleted went out with the mark: say they are back.
		return s.record(uctx, tx, EventSaved, back...)
	})
	if uerr != nil {
		s.log.ErrorContext(ctx, "files.delete_unmark_failed", "ids", backIDs, "err", uerr)
	} else {
		s.cfg.Outbox.Committed()
	}
	err := storageError("deleting object", first)
	if len(fs) > 1 {
		err = fmt.Errorf("%d of %d files were deleted, these are unchanged: %v: %w", len(fs)-len(back), len(fs), backIDs, err)
	}
	return err
}

// countFiles adds sign times fs to their owners' usage rows and folder
// counts, in tx.
func (s *Service) countFiles(ctx context.Context, tx *ent.Tx, sign int64, fs []*ent.File) error {
	for _, u := range usageDeltas(sign, fs) {
		if err := s.addUsage(ctx, tx, u); err != nil {
			return err
		}
	}
	return s.addFolders(ctx, tx, folderDeltas(sign, fs...))
}

// usageDeltas is what sign times fs make in their owners' usage rows, one
// delta an owner, sorted by owner: one lock order for concurrent calls.
func usageDeltas(sign int64, fs []*ent.File) []ent.Usage {
	owners := map[string]*ent.Usage{}
	var order []string
	for _, f := range fs {
		u := owners[f.Owner]
		if u == nil {
			u = &ent.Usage{ID: f.Owner}
			owners[f.Owner] = u
			order = append(order, f.Owner)
		}
		u.SavedCount += sign
		u.SavedBytes += sign * savedBytes(f) // an INFECTED file's were released
		u.FileWrites = 1                     // the owner's filtered counts are stale
	}
	slices.Sort(order)
	out := make([]ent.Usage, len(order))
	for i, o := range order {
		out[i] = *owners[o]
	}
	return out
}

// tombstonesFor makes, for each key of fs an upload URL could still write
// to, a tombstone that has the sweeper delete it once more when none can
// (as withTombstone does for the sweeper's deletes).
func (s *Service) tombstonesFor(tx *ent.Tx, fs []*ent.File) []*ent.TombstoneCreate {
	ts := s.tombstones(fs)
	out := make([]*ent.TombstoneCreate, len(ts))
	for i, t := range ts {
		out[i] = tx.Tombstone.Create().SetFileName(t.Key).SetDeleteAfter(t.Until)
	}
	return out
}

// tombstones are the keys of fs an upload URL could still write to, each
// with until when it could.
func (s *Service) tombstones(fs []*ent.File) []Tombstone {
	if s.cfg.RevocableURLs {
		return nil
	}
	now := s.cfg.Now()
	var out []Tombstone
	for _, f := range fs {
		until := s.keyWritableUntil(f)
		if !now.Before(until) {
			continue
		}
		for _, key := range objectKeys(f.FileName) {
			out = append(out, Tombstone{Key: key, Until: until})
		}
	}
	return out
}
