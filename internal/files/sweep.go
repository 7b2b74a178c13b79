package files

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/storage"
)

// SweepReport counts what one sweep removed.
type SweepReport struct {
	Uploads int // expired, unsaved uploads (and their objects)
	Deletes int // interrupted deletes finished
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
// (commit), and the sweep waits ClockSkew beyond that.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var r SweepReport
	for {
		cutoff := s.cfg.Now().Add(-s.cfg.SaveWindow - s.cfg.ClockSkew)
		expired, err := s.db.Upload.Query().Where(upload.ExpiresAtLT(cutoff)).Limit(sweepBatch).All(ctx)
		if err != nil {
			return r, dbError("finding expired uploads", err)
		}
		n, err := s.removeEach(ctx, len(expired), func(i int) (string, func(context.Context) error) {
			return expired[i].FileName, s.db.Upload.DeleteOneID(expired[i].ID).Exec
		})
		r.Uploads += n
		if err != nil {
			return r, err
		}
		if len(expired) < sweepBatch {
			break
		}
	}
	for {
		// No skew here: racing an in-flight delete only deletes twice.
		cutoff := s.cfg.Now().Add(-s.cfg.DeleteGrace)
		stale, err := s.db.File.Query().Where(file.DeletedAtLT(cutoff)).Limit(sweepBatch).All(ctx)
		if err != nil {
			return r, dbError("finding interrupted deletes", err)
		}
		n, err := s.removeEach(ctx, len(stale), func(i int) (string, func(context.Context) error) {
			return stale[i].FileName, s.db.File.DeleteOneID(stale[i].ID).Exec
		})
		r.Deletes += n
		if err != nil || len(stale) < sweepBatch {
			return r, err
		}
	}
}

// removeEach deletes n objects and then each one's row, a few at a time.
// It returns how many rows it removed and the first error.
func (s *Service) removeEach(ctx context.Context, n int, item func(int) (key string, deleteRow func(context.Context) error)) (int, error) {
	var g errgroup.Group
	g.SetLimit(statConcurrency)
	removed := make([]bool, n)
	for i := range n {
		key, deleteRow := item(i)
		g.Go(func() error {
			if err := s.store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotExist) {
				return storageError("sweeping object", err)
			}
			if err := deleteRow(ctx); err != nil && !ent.IsNotFound(err) {
				return dbError("sweeping row", err)
			}
			removed[i] = true
			return nil
		})
	}
	err := g.Wait()
	count := 0
	for _, ok := range removed {
		if ok {
			count++
		}
	}
	return count, err
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
