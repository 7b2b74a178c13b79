package files

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/tombstone"
	"github.com/filegraph/filegraph/ent/upload"
)

// SweepReport counts what one sweep removed.
type SweepReport struct {
	Uploads int // expired, unsaved uploads (and their objects)
	Deletes int // interrupted deletes finished
	// Tombstones are keys deleted once more, now that no URL can write them.
	Tombstones int
}

// sweepBatch bounds the rows one sweep step reads.
const sweepBatch = 200

// Sweep removes uploads whose save window has passed, with their objects if
// they were uploaded, and finishes deletes that were interrupted. Each step
// deletes the object first and the row second, and both are idempotent, so
// a sweep may die anywhere and several replicas may sweep at once: the
// worst case is two of them deleting the same thing.
//
// The object of an expired upload goes before its row so that a crash never
// leaves an object no row knows about; a save racing the sweep cannot win,
// because saving retires the upload row only while it is within its window
// (recordSaved), and the sweep waits ClockSkew beyond that.
func (s *Service) Sweep(ctx context.Context) (r SweepReport, err error) {
	defer func() { s.cfg.Events.Swept(r, err) }()
	r.Uploads, err = s.removeInBatches(ctx, func(ctx context.Context) ([]toRemove, error) {
		expired, err := s.db.Upload.Query().Where(s.whereExpiredAt(s.cfg.Now().Add(-s.cfg.ClockSkew))).Limit(sweepBatch).All(ctx)
		if err != nil {
			return nil, dbError("finding expired uploads", err)
		}
		out := make([]toRemove, len(expired))
		for i, u := range expired {
			// A PUT begun before the URL expired may still be landing. (A
			// part cannot: it dies with its aborted upload.)
			until := s.cfg.Now().Add(s.latePutWindow())
			if inParts(u) {
				until = time.Time{}
			}
			out[i] = toRemove{key: u.FileName, multipartID: u.MultipartID, deleteRow: s.withTombstone(u.FileName, until, s.retireUpload(u))}
		}
		return out, nil
	})
	if err != nil {
		return r, err
	}
	r.Deletes, err = s.removeInBatches(ctx, func(ctx context.Context) ([]toRemove, error) {
		// No skew here: racing an in-flight delete only deletes twice.
		cutoff := s.cfg.Now().Add(-s.cfg.DeleteGrace)
		stale, err := s.db.File.Query().Where(file.DeletedAtLT(cutoff)).Limit(sweepBatch).All(ctx)
		if err != nil {
			return nil, dbError("finding interrupted deletes", err)
		}
		ids := make([]uuid.UUID, len(stale))
		for i, f := range stale {
			ids[i] = f.ID
		}
		variants, err := variantsByFile(ctx, s.db.FileVariant, ids)
		if err != nil {
			return nil, err
		}
		out := make([]toRemove, len(stale))
		for i, f := range stale {
			also := variantKeys(variants[f.ID])
			if t := twinKey(f.FileName); t != "" {
				also = append(also, t)
			}
			out[i] = toRemove{key: f.FileName, also: also, deleteRow: s.withTombstones(objectKeys(f.FileName), s.keyWritableUntil(f), func(ctx context.Context) (bool, error) {
				return s.deleteFileRow(ctx, f.ID, variants[f.ID])
			})}
		}
		return out, nil
	})
	if err != nil {
		return r, err
	}
	if err := s.orphanedScans(ctx); err != nil {
		return r, err
	}
	r.Tombstones, err = s.removeInBatches(ctx, func(ctx context.Context) ([]toRemove, error) {
		due, err := s.db.Tombstone.Query().Where(tombstone.DeleteAfterLT(s.cfg.Now())).Limit(sweepBatch).All(ctx)
		if err != nil {
			return nil, dbError("finding tombstones", err)
		}
		out := make([]toRemove, len(due))
		for i, t := range due {
			out[i] = toRemove{key: t.FileName, deleteRow: func(ctx context.Context) (bool, error) {
				n, err := s.db.Tombstone.Delete().Where(tombstone.ID(t.ID)).Exec(ctx)
				return n > 0, err
			}}
		}
		return out, nil
	})
	return r, err
}

// withTombstone returns deleteRow, preceded, when a PUT to key could still land
// before until, by a tombstone that has the sweeper delete key once more
// after until. It runs after the object was deleted: an object a late PUT
// puts back is then always tombstoned or (no tombstone written yet) still
// named by the row, which the sweeper retries.
func (s *Service) withTombstone(key string, until time.Time, deleteRow func(context.Context) (bool, error)) func(context.Context) (bool, error) {
	if s.cfg.RevocableURLs || !s.cfg.Now().Before(until) {
		return deleteRow
	}
	return func(ctx context.Context) (bool, error) {
		if err := s.db.Tombstone.Create().SetFileName(key).SetDeleteAfter(until).Exec(ctx); err != nil {
			return false, dbError("recording tombstone", err)
		}
		return deleteRow(ctx)
	}
}

// withTombstones is withTombstone for each of keys (which of a file's keys
// its upload URL wrote is not recorded: a held file's, or its public one's).
func (s *Service) withTombstones(keys []string, until time.Time, deleteRow func(context.Context) (bool, error)) func(context.Context) (bool, error) {
	for _, key := range keys {
		deleteRow = s.withTombstone(key, until, deleteRow)
	}
	return deleteRow
}

// retireUpload deletes an upload's row and takes it out of its owner's
// usage, if no one else (a save, another sweeper) removed it first.
func (s *Service) retireUpload(u *ent.Upload) func(context.Context) (bool, error) {
	return func(ctx context.Context) (removed bool, err error) {
		err = s.inTx(ctx, "sweep", func(tx *ent.Tx) error {
			n, err := tx.Upload.Delete().Where(upload.ID(u.ID)).Exec(ctx)
			if err != nil || n == 0 {
				return err
			}
			removed = true
			return s.addUsage(ctx, tx, ent.Usage{ID: u.Owner, PendingCount: -1, PendingBytes: -u.Size})
		})
		return removed && err == nil, err
	}
}

// toRemove is an object and the row that names it, both to go; for an
// upload in parts, its parts too; for a file, its twin and its variants'
// objects too. deleteRow reports whether it removed the
// row, rather than found it gone, so that replicas sweeping together count
// each row once.
type toRemove struct {
	key         string
	also        []string // a file's other objects: its twin (twinKey), its variants
	multipartID string
	deleteRow   func(context.Context) (bool, error)
}

// removeInBatches removes what find returns, batch after batch, until a batch
// comes back short; it returns how many rows it removed.
func (s *Service) removeInBatches(ctx context.Context, find func(context.Context) ([]toRemove, error)) (int, error) {
	total := 0
	for {
		batch, err := find(ctx)
		if err != nil {
			return total, err
		}
		n, err := s.removeBatch(ctx, batch)
		total += n
		if err != nil || len(batch) < sweepBatch {
			return total, err
		}
	}
}

// removeBatch deletes each object and then its row, a few at a time. It
// returns how many rows it removed and the first error.
func (s *Service) removeBatch(ctx context.Context, batch []toRemove) (int, error) {
	var g errgroup.Group
	g.SetLimit(storageConcurrency)
	var removed atomic.Int64
	for _, d := range batch {
		g.Go(func() error {
			if err := s.removeUploadFromStore(ctx, d.key, d.multipartID); err != nil {
				return storageError("sweeping object", err)
			}
			for _, key := range d.also {
				if err := s.store.Delete(ctx, key); err != nil {
					return storageError("sweeping object", err)
				}
			}
			ok, err := d.deleteRow(ctx)
			if err != nil {
				return dbError("sweeping row", err)
			}
			if ok {
				removed.Add(1)
			}
			return nil
		})
	}
	err := g.Wait()
	return int(removed.Load()), err
}

// RunSweeper sweeps every interval, with jitter so that replicas started
// together spread out, until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	for {
		wait := interval/2 + rand.N(interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "sweep.failed", "err", err, "uploads", r.Uploads, "deletes", r.Deletes)
		case r.Uploads+r.Deletes > 0:
			s.log.InfoContext(ctx, "sweep.done", "uploads", r.Uploads, "deletes", r.Deletes)
		}
	}
}
