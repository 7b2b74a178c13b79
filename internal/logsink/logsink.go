// Package logsink holds the server's log destination: a writer that
// gathers log records in memory and hands them to the real output (stderr)
// in batches, at most every flush interval or when a batch fills, so that
// logging a request costs a copy rather than a write system call. What is
// buffered when the process dies abruptly (a kill, not a shutdown) is lost:
// at most one interval's worth.
package logsink

import (
	"io"
	"sync"
	"time"
)

// Writer batches writes to an io.Writer. Each Write should be one whole
// record, as slog's handlers write them, so records never interleave.
type Writer struct {
	out      io.Writer
	maxBatch int

	mu    sync.Mutex
	buf   []byte // records not yet written
	spare []byte // the last batch's buffer, reused

	flushMu sync.Mutex // one flush at a time, so batches stay in order
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// New returns a Writer that writes to out every interval, and at once when
// maxBatch bytes are waiting. Close it to write the rest.
func New(out io.Writer, interval time.Duration, maxBatch int) *Writer {
	w := &Writer{out: out, maxBatch: maxBatch, buf: make([]byte, 0, maxBatch), spare: make([]byte, 0, maxBatch),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Flush()
		}
	}
}

// Write buffers p; it writes the batch itself when the batch is full.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.maxBatch
	w.mu.Unlock()
	if full {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is buffered. Writers are held up only for the swap of
// two buffers, not for the write itself.
func (w *Writer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	if len(batch) == 0 {
		w.spare = batch
		return nil
	}
	_, err := w.out.Write(batch)
	w.spare = batch[:0] // only ever touched under flushMu
	return err
}

// Close stops the periodic flush and writes what is left.
func (w *Writer) Close() error {
	w.closing.Do(func() { close(w.stop) })
	<-w.done
	return w.Flush()
}
