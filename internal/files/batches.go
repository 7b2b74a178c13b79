package files

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
)

// Concurrent deleteFile calls share their writes, as PostgreSQL's group
// commit shares a WAL flush: while one batch is being written, the calls
// that arrive wait, and the next batch takes them all. Deletes of one
// user otherwise take turns on that user's usage row, each holding it
// through its own commit's flush; a batch takes it once. A call alone is
// a batch of one, sent at once. Each call deletes its objects itself, and
// returns after its mark is durable and its row removed.

// batchTimeout bounds a batch's round trips, which run apart from any one
// call's context: a call that gives up leaves the batch to the others.
const batchTimeout = 30 * time.Second

// batches holds the calls waiting for the next batch of one kind.
type batches[C any] struct {
	mu      sync.Mutex
	waiting []C
	busy    bool // a batch is being written
}

// join queues c. A call that finds no batch under way writes the first
// batch itself (run), at once; the batches queued meanwhile are written by
// a goroutine of their own, not in its time.
func (b *batches[C]) join(c C, run func([]C)) {
	b.mu.Lock()
	b.waiting = append(b.waiting, c)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if lead && b.next(run) {
		go func() {
			for b.next(run) {
			}
		}()
	}
}

// next runs up to MaxDeletesPerCall waiting calls, and reports whether
// more wait; with none left it is idle.
func (b *batches[C]) next(run func([]C)) bool {
	b.mu.Lock()
	n := min(len(b.waiting), MaxDeletesPerCall)
	batch := b.waiting[:n:n]
	b.waiting = append([]C(nil), b.waiting[n:]...)
	b.mu.Unlock()
	if n > 0 {
		run(batch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) == 0 {
		b.busy = false
		return false
	}
	return true
}

// len is how many calls wait.
func (b *batches[C]) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting)
}

// markCall is one call's mark and, once done is closed, what came of it.
type markCall struct {
	ctx      context.Context
	mark     Mark
	done     chan struct{}
	file     *ent.File
	variants map[uuid.UUID][]*ent.FileVariant
	err      error
}

// markOne marks m's file through Deletes, in a batch with the calls that
// wait with it, and returns it as marked with its variants.
func (s *Service) markOne(ctx context.Context, m Mark) (*ent.File, map[uuid.UUID][]*ent.FileVariant, error) {
	c := &markCall{ctx: ctx, mark: m, done: make(chan struct{})}
	s.marks.join(c, func(batch []*markCall) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
		defer cancel()
		s.markBatch(ctx, batch)
	})
	select {
	case <-c.done:
		return c.file, c.variants, c.err
	case <-ctx.Done():
		// The batch may still mark the file: the sweeper then finishes its
		// delete once DeleteGrace has passed.
		return nil, nil, fmt.Errorf("marking file deleted: %w", context.Cause(ctx))
	}
}

// removeCall is one marked file's row to remove and, once done is closed,
// whether it was there.
type removeCall struct {
	ctx      context.Context
	id       uuid.UUID
	variants bool
	done     chan struct{}
	removed  bool
	err      error
}

// removeMarkedRow removes the row of the marked file id (with its
// variants' rows when it has some) through Deletes, in a batch with the
// calls that wait with it, and reports whether it was there.
func (s *Service) removeMarkedRow(ctx context.Context, id uuid.UUID, variants bool) (bool, error) {
	c := &removeCall{ctx: ctx, id: id, variants: variants, done: make(chan struct{})}
	s.removals.join(c, func(batch []*removeCall) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
		defer cancel()
		ids := make([]uuid.UUID, len(batch))
		var withVariants []uuid.UUID
		for i, c := range batch {
			ids[i] = c.id
			if c.variants {
				withVariants = append(withVariants, c.id)
			}
		}
		removed, err := s.cfg.Deletes.RemoveRows(ctx, ids, withVariants)
		for _, c := range batch {
			c.err = err
			// A row two calls of the batch name was the first one's.
			if err == nil && removed[c.id] {
				c.removed = true
				delete(removed, c.id)
			}
			close(c.done)
		}
	})
	select {
	case <-c.done:
		return c.removed, c.err
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}
