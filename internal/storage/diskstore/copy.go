package diskstore

import (
	"errors"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

const (
	// copyChunk is what one write gives the file, whole but for the last,
	// as direct writes need (see fileWriter); copyChunks of them are in
	// flight per PUT (4 MiB), however large the body.
	copyChunk  = 1 << 20
	copyChunks = 4
	// directAlign is the alignment direct writes need of the memory, the
	// file offset and the length: the largest logical block size of disks.
	directAlign = 4096
	// writebackEvery is how much is written through the page cache before
	// the kernel is asked to start putting it on disk.
	writebackEvery = 8 << 20
)

var chunkPool = sync.Pool{New: func() any { b := alignedBuffer(copyChunk); return &b }}

// alignedBuffer returns n bytes that start at a multiple of directAlign.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := -int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) & (directAlign - 1)
	return b[off : off+n : off+n]
}

// copyHashed copies src into dst and h. Reading the body, hashing it and
// writing it run side by side, a chunk apart: SHA-256 alone takes about as
// long per byte as the disk, so it has a goroutine of its own rather than
// holding up either. It returns the bytes read and, separately, the first
// error of each side: a read error is the client's, a write error the
// server's (a full disk, say). The caller still fsyncs the file.
func copyHashed(dst *fileWriter, h hash.Hash, src io.Reader) (n int64, readErr, writeErr error) {
	free := make(chan *[]byte, copyChunks)
	for range copyChunks {
		free <- chunkPool.Get().(*[]byte)
	}
	type chunk struct {
		buf *[]byte
		n   int
	}
	hashing := make(chan chunk, copyChunks)
	writing := make(chan chunk, copyChunks)
	werr := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		for c := range hashing {
			h.Write((*c.buf)[:c.n])
			writing <- c
		}
		close(writing)
	}()
	go func() {
		var err error
		for c := range writing {
			if err == nil {
				if err = dst.write((*c.buf)[:c.n]); err != nil {
					failed.Store(true)
				}
			}
			free <- c.buf
		}
		werr <- err
	}()
	for !failed.Load() {
		buf := <-free
		m, err := fill(src, *buf)
		if m > 0 {
			n += int64(m)
			hashing <- chunk{buf, m}
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
	close(hashing)
	writeErr = <-werr
	for range copyChunks {
		chunkPool.Put(<-free)
	}
	return n, readErr, writeErr
}

// fill reads into p until it is full, src ends or a read fails.
func fill(src io.Reader, p []byte) (n int, err error) {
	for n < len(p) && err == nil {
		var m int
		m, err = src.Read(p[n:])
		n += m
	}
	return n, err
}

// fileWriter writes a PUT's chunks to its file. Direct writes bypass the
// page cache (O_DIRECT): the bytes go from the chunk to the disk with no
// copy into the cache, the disk works while the body arrives, and the fsync
// finds only the file's metadata left. Cached writes suit a file that is
// read again soon (a part, at completion); every few MiB the kernel is
// asked to start writing what the file has so far.
type fileWriter struct {
	f                *os.File
	direct           bool
	written, started int64
}

// newFileWriter writes to f directly if asked and the file system can,
// else through the page cache.
func newFileWriter(f *os.File, direct bool) *fileWriter {
	return &fileWriter{f: f, direct: direct && setDirect(f, true) == nil}
}

// write writes p, a whole chunk unless it is the last.
func (w *fileWriter) write(p []byte) error {
	if w.direct {
		whole := len(p) &^ (directAlign - 1)
		k, err := w.f.Write(p[:whole])
		w.written += int64(k)
		if err == nil && whole == len(p) {
			return nil
		}
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			return err
		}
		// The last chunk's short tail, or all of it on a file system that
		// takes the flag but not the writes, goes through the cache.
		if err := setDirect(w.f, false); err != nil {
			return err
		}
		w.direct, w.started = false, w.written
		p = p[k:]
	}
	k, err := w.f.Write(p)
	w.written += int64(k)
	if err == nil && w.written-w.started >= writebackEvery {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return err
}
