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

// batchCall is what batches needs of a call: its context, and done,
// closed once its batch has been written.
type batchCall struct {
	ctx  context.Context
	done chan struct{}
}

func newBatchCall(ctx context.Context) batchCall {
	return batchCall{ctx: ctx, done: make(chan struct{})}
}

func (c *batchCall) call() *batchCall { return c }

// wait returns once the call's batch has been written, or its context's
// error if that ends first.
func (c *batchCall) wait() error {
	select {
	case <-c.done:
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}

// batches holds the calls waiting for the next batch of one kind.
type batches[C interface{ call() *batchCall }] struct {
	mu      sync.Mutex
	waiting []C
	busy    bool // a batch is being written
}

// join queues c. A call that finds no batch under way writes the first
// batch itself (run), at once; the batches queued meanwhile are written by
// a goroutine of their own, not in its time.
func (b *batches[C]) join(c C, run func(context.Context, []C)) {
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

// next runs up to MaxDeletesPerCall waiting calls, under the first one's
// context without its cancel, and reports whether more wait; with none
// left it is idle.
func (b *batches[C]) next(run func(context.Context, []C)) bool {
	b.mu.Lock()
	n := min(len(b.waiting), MaxDeletesPerCall)
	batch := b.waiting[:n:n]
	b.waiting = append([]C(nil), b.waiting[n:]...)
	b.mu.Unlock()
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].call().ctx), batchTimeout)
		run(ctx, batch)
		cancel()
		for _, c := range batch {
			close(c.call().done)
		}
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

// markCall is one call's mark and, once its batch is written, what came
// of it.
type markCall struct {
	batchCall
	mark     Mark
	file     *ent.File
	variants map[uuid.UUID][]*ent.FileVariant
	err      error
}

// markOne marks m's file through Deletes, in a batch with the calls that
// wait with it, and returns it as marked with its variants.
func (s *Service) markOne(ctx context.Context, m Mark) (*ent.File, map[uuid.UUID][]*ent.FileVariant, error) {
	c := &markCall{batchCall: newBatchCall(ctx), mark: m}
	s.marks.join(c, s.markBatch)
	if err := c.wait(); err != nil {
		// The batch may still mark the file: the sweeper then finishes its
		// delete once DeleteGrace has passed.
		return nil, nil, fmt.Errorf("marking file deleted: %w", err)
	}
	return c.file, c.variants, c.err
}

// removeCall is one marked file's row to remove and, once its batch is
// written, whether it was there.
type removeCall struct {
	batchCall
	id       uuid.UUID
	variants bool
	removed  bool
	err      error
}

// removeMarkedRow removes the row of the marked file id (with its
// variants' rows when it has some) through Deletes, in a batch with the
// calls that wait with it, and reports whether it was there.
func (s *Service) removeMarkedRow(ctx context.Context, id uuid.UUID, variants bool) (bool, error) {
	c := &removeCall{batchCall: newBatchCall(ctx), id: id, variants: variants}
	s.removals.join(c, s.removeRowsBatch)
	if err := c.wait(); err != nil {
		return false, err
	}
	return c.removed, c.err
}

// removeRowsBatch removes the rows of a batch of removeMarkedRow calls.
func (s *Service) removeRowsBatch(ctx context.Context, calls []*removeCall) {
	ids := make([]uuid.UUID, len(calls))
	var withVariants []uuid.UUID
	for i, c := range calls {
		ids[i] = c.id
		if c.variants {
			withVariants = append(withVariants, c.id)
		}
	}
	removed, err := s.cfg.Deletes.RemoveRows(ctx, ids, withVariants)
	for _, c := range calls {
		c.err = err
		// A row two calls of the batch name was the first one's.
		if err == nil && removed[c.id] {
			c.removed = true
			delete(removed, c.id)
		}
	}
}
