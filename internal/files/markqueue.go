package files

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
)

// Concurrent deleteFile calls share their mark's transaction, as
// PostgreSQL's group commit shares a WAL flush: while one batch of marks
// is being committed, the calls that arrive wait, and the next batch
// takes them all. Deletes of one user otherwise take turns on that user's
// usage row, each holding it through its own commit's flush; a batch
// takes it once. A call alone is a batch of one, sent at once. Each call
// still deletes its objects and row itself, and returns after its mark
// is durable.

// markBatchTimeout bounds a batch's two round trips, which run apart from
// any one call's context: a call that gives up leaves the batch to the
// others.
const markBatchTimeout = 30 * time.Second

// markCall is one call's mark and, once done is closed, what came of it.
type markCall struct {
	ctx      context.Context
	mark     Mark
	done     chan struct{}
	file     *ent.File
	variants map[uuid.UUID][]*ent.FileVariant
	err      error
}

// markQueue holds the calls waiting for the next batch.
type markQueue struct {
	mu      sync.Mutex
	waiting []*markCall
	busy    bool // a batch is being marked
}

// markOne marks m's file through Deletes, in a batch with the calls that
// wait with it, and returns it as marked with its variants.
func (s *Service) markOne(ctx context.Context, m Mark) (*ent.File, map[uuid.UUID][]*ent.FileVariant, error) {
	c := &markCall{ctx: ctx, mark: m, done: make(chan struct{})}
	q := &s.marks
	q.mu.Lock()
	q.waiting = append(q.waiting, c)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		// This call's own batch, at once; the batches after it are marked
		// by a goroutine of their own, not in this call's time.
		if more := s.nextBatch(); more {
			go func() {
				for s.nextBatch() {
				}
			}()
		}
	}
	select {
	case <-c.done:
		return c.file, c.variants, c.err
	case <-ctx.Done():
		// The batch may still mark the file: the sweeper then finishes its
		// delete once DeleteGrace has passed.
		return nil, nil, fmt.Errorf("marking file deleted: %w", context.Cause(ctx))
	}
}

// nextBatch marks up to MaxDeletesPerCall waiting calls, and reports
// whether more wait; with none left the queue is idle.
func (s *Service) nextBatch() bool {
	q := &s.marks
	q.mu.Lock()
	n := min(len(q.waiting), MaxDeletesPerCall)
	batch := q.waiting[:n:n]
	q.waiting = append([]*markCall(nil), q.waiting[n:]...)
	q.mu.Unlock()
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), markBatchTimeout)
		s.markBatch(ctx, batch)
		cancel()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return false
	}
	return true
}
