package diskstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"
)

// trickle hands out its bytes in reads of random lengths, as a socket does.
type trickle struct{ r io.Reader }

func (t trickle) Read(p []byte) (int, error) {
	n, _ := rand.Int(rand.Reader, big.NewInt(9000))
	return t.r.Read(p[:min(len(p), int(n.Int64())+1)])
}

// TestCopyHashed copies bodies of lengths around the alignment and chunk
// boundaries, read whole or in dribbles, both bypassing the page cache and
// through it, and compares the file's bytes and the hash with the body's.
func TestCopyHashed(t *testing.T) {
	sizes := []int{0, 1, directAlign - 1, directAlign, directAlign + 1, copyChunk - 1, copyChunk, copyChunk + 1, 3*copyChunk + 5000}
	body := make([]byte, sizes[len(sizes)-1])
	rand.Read(body)
	dir := t.TempDir()
	// Each takes the subtest's t: a subtest runs on a goroutine of its own,
	// where the parent's t.Fatalf must not be called.
	writers := map[string]func(*testing.T, *os.File) *fileWriter{
		"direct": func(t *testing.T, f *os.File) *fileWriter {
			w := newFileWriter(f, true)
			if !w.direct && runtime.GOOS == "linux" {
				t.Fatalf("%s takes no direct writes: this test would not test them", dir)
			}
			return w
		},
		"cached": func(_ *testing.T, f *os.File) *fileWriter { return newFileWriter(f, false) },
	}
	for name, newWriter := range writers {
		for _, size := range sizes {
			for _, dribble := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/dribble=%v", name, size, dribble), func(t *testing.T) {
					f, err := os.Create(filepath.Join(dir, "out"))
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					var src io.Reader = bytes.NewReader(body[:size])
					if dribble {
						src = trickle{src}
					}
					h := sha256.New()
					n, readErr, writeErr := copyHashed(newWriter(t, f), h, src)
					if n != int64(size) || readErr != nil || writeErr != nil {
						t.Fatalf("copied %d bytes, read error %v, write error %v; want %d, none, none", n, readErr, writeErr, size)
					}
					if err := f.Sync(); err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(f.Name())
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, body[:size]) {
						t.Errorf("the file has %d bytes unlike the body's %d", len(got), size)
					}
					if want := sha256.Sum256(body[:size]); !bytes.Equal(h.Sum(nil), want[:]) {
						t.Error("the hash is not the body's")
					}
				})
			}
		}
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

// TestCopyHashedErrors: a body that fails is the client's error, a file
// that cannot be written the server's, and a write error stops the copy
// of a body that would never end.
func TestCopyHashedErrors(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("connection reset")
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := io.MultiReader(bytes.NewReader(make([]byte, copyChunk+10)), iotest.ErrReader(boom))
	if n, readErr, writeErr := copyHashed(newFileWriter(f, true), sha256.New(), src); n != copyChunk+10 || !errors.Is(readErr, boom) || writeErr != nil {
		t.Errorf("failing body: %d bytes, read error %v, write error %v", n, readErr, writeErr)
	}

	ro, err := os.Open(f.Name()) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, readErr, writeErr := copyHashed(newFileWriter(ro, true), sha256.New(), endless{}); readErr != nil || writeErr == nil {
		t.Errorf("unwritable file: read error %v, write error %v; want none and one", readErr, writeErr)
	}
}
