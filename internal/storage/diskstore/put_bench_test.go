package diskstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

// repeating is size bytes of one random block, over and over.
type repeating struct {
	block []byte
	left  int64
	off   int
}

func newRepeating(block []byte, size int64) *repeating { return &repeating{block: block, left: size} }

func (r *repeating) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkPutThroughput writes one large object (1 GiB, or
// FILEGRAPH_BENCH_PUT_BYTES) through a presigned PUT over loopback HTTP,
// and, in the same run, the same bytes straight to a file in the same
// folder with one fsync: the hardware's raw speed. It logs the ratio.
func BenchmarkPutThroughput(b *testing.B) {
	size := int64(1 << 30)
	if v := os.Getenv("FILEGRAPH_BENCH_PUT_BYTES"); v != "" {
		var err error
		if size, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	block := make([]byte, 1<<20)
	rand.Read(block)
	dir := b.TempDir()
	srv := httptest.NewUnstartedServer(nil)
	s, err := New(dir, "http://"+srv.Listener.Addr().String()+"/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	srv.Config.Handler = http.StripPrefix("/storage", s.Handler())
	srv.Start()
	defer srv.Close()

	rates := map[string]float64{}
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("raw-%d", i)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(f, newRepeating(block, size), make([]byte, 1<<20)); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			os.Remove(f.Name())
		}
		rates["raw"] = float64(size) * float64(b.N) / time.Since(start).Seconds()
	})
	b.Run("put", func(b *testing.B) {
		b.SetBytes(size)
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			key := fmt.Sprintf("files/big-%d-%d.bin", time.Now().UnixNano(), i)
			req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: size, ContentType: "application/octet-stream", TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest(req.Method, req.URL, newRepeating(block, size))
			r.ContentLength = size
			for _, h := range req.Header {
				if h.Name != "Content-Length" {
					r.Header.Set(h.Name, h.Value)
				}
			}
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			msg, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("PUT: %s %s", res.Status, bytes.TrimSpace(msg))
			}
			if err := s.Delete(context.Background(), key); err != nil {
				b.Fatal(err)
			}
		}
		rates["put"] = float64(size) * float64(b.N) / time.Since(start).Seconds()
	})
	if rates["raw"] > 0 && rates["put"] > 0 {
		b.Logf("%d bytes: PUT %.0f MB/s, raw %.0f MB/s: %.2f of raw", size, rates["put"]/1e6, rates["raw"]/1e6, rates["put"]/rates["raw"])
	}
}
