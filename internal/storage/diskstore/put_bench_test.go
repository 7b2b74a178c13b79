package diskstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
// and, in the same iteration, the same bytes straight to a file in the same
// folder with one fsync: the hardware's raw speed (the issue's `cat > file;
// sync`). The two alternate, so that both see the same load on a shared
// machine; it reports the median of each and of their ratio (put/raw, of
// speeds). Run it with -benchtime=5x or so for several pairs.
//
// Two more figures, from the same iterations, say what bounds a PUT that
// raw does not pay: sha256-MB/s, hashing the bytes in memory (a PUT hashes
// every byte to check and record its checksum, on one core), and
// http-MB/s, the same client sending the same bytes to a handler that
// drops them (the socket; on loopback the client shares the server's cores).
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
	mux := http.NewServeMux()
	mux.Handle("/storage/", http.StripPrefix("/storage", s.Handler()))
	mux.HandleFunc("PUT /drop", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	raw := func(i int) {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("raw-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if _, err := io.CopyBuffer(f, newRepeating(block, size), make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	send := func(url string, header []storage.Header) {
		r, _ := http.NewRequest(http.MethodPut, url, newRepeating(block, size))
		r.ContentLength = size
		for _, h := range header {
			if h.Name != "Content-Length" {
				r.Header.Set(h.Name, h.Value)
			}
		}
		res, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("PUT: %s %s", res.Status, bytes.TrimSpace(msg))
		}
	}
	put := func(i int) {
		key := fmt.Sprintf("files/big-%d-%d.bin", time.Now().UnixNano(), i)
		req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: size, ContentType: "application/octet-stream", TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		send(req.URL, req.Header)
		if err := s.Delete(context.Background(), key); err != nil {
			b.Fatal(err)
		}
	}
	hash := func(int) {
		io.CopyBuffer(sha256.New(), newRepeating(block, size), make([]byte, 1<<20))
	}
	drop := func(int) { send(srv.URL+"/drop", nil) }
	timed := func(f func(int), i int) float64 {
		start := time.Now()
		f(i)
		return time.Since(start).Seconds()
	}
	var raws, puts, ratios, hashes, drops []float64
	for i := 0; b.Loop(); i++ {
		r, p := timed(raw, i), timed(put, i)
		raws, puts, ratios = append(raws, r), append(puts, p), append(ratios, r/p)
		hashes, drops = append(hashes, timed(hash, i)), append(drops, timed(drop, i))
	}
	mbps := func(secs []float64) float64 { return float64(size) / median(secs) / 1e6 }
	b.ReportMetric(0, "ns/op") // the iteration's time says nothing
	b.ReportMetric(mbps(raws), "raw-MB/s")
	b.ReportMetric(mbps(puts), "put-MB/s")
	b.ReportMetric(median(ratios), "put/raw")
	b.ReportMetric(mbps(hashes), "sha256-MB/s")
	b.ReportMetric(mbps(drops), "http-MB/s")
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}
