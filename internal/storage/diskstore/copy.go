package diskstore

import (
	"errors"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// copyChunk is the most one read takes from the body and one write
	// gives the file; copyChunks of them are in flight per PUT (1 MiB).
	copyChunk  = 256 << 10
	copyChunks = 4
	// writebackEvery is how much is written before the kernel is asked to
	// start putting it on disk.
	writebackEvery = 8 << 20
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, copyChunk); return &b }}

// copyHashed copies src into dst and h. Reading and hashing run beside
// writing, a chunk apart, rather than one after the other; and every few MiB
// the kernel is asked to start writing what the file has so far, so that
// the fsync after the copy, which a PUT still makes before answering, finds
// little left to do. It returns the bytes read and, separately, the first
// error of each side: a read error is the client's, a write error the
// server's (a full disk, say).
func copyHashed(dst *os.File, h hash.Hash, src io.Reader) (n int64, readErr, writeErr error) {
	free := make(chan *[]byte, copyChunks)
	for range copyChunks {
		free <- chunkPool.Get().(*[]byte)
	}
	type chunk struct {
		buf *[]byte
		n   int
	}
	full := make(chan chunk, copyChunks)
	werr := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		var written, started int64
		for c := range full {
			if err == nil {
				_, err = dst.Write((*c.buf)[:c.n])
				written += int64(c.n)
				if err != nil {
					failed.Store(true)
				} else if written-started >= writebackEvery {
					startWriteback(dst, started, written-started)
					started = written
				}
			}
			free <- c.buf
		}
		werr <- err
	}()
	for !failed.Load() {
		buf := <-free
		// Whatever has arrived goes on at once: a slow body is on disk as
		// far as it came.
		m, err := src.Read(*buf)
		if m > 0 {
			h.Write((*buf)[:m])
			n += int64(m)
			full <- chunk{buf, m}
		} else {
			free <- buf
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(full)
	writeErr = <-werr
	for range copyChunks {
		chunkPool.Put(<-free)
	}
	return n, readErr, writeErr
}
