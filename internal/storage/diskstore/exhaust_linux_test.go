package diskstore

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// TestOutOfDescriptors: part PUTs that find the process out of descriptors
// (EMFILE) are told to retry (503 with Retry-After), never that the upload
// does not exist (404) or that the server failed (500); the others are
// stored. The test lowers its own process's descriptor limit to a few
// above what it holds, on connections it opened before.
func TestOutOfDescriptors(t *testing.T) {
	// Served by a handler that counts the PUTs answered.
	var answered atomic.Int32
	srv := httptest.NewUnstartedServer(nil)
	s, err := New(t.TempDir(), "http://"+srv.Listener.Addr().String()+"/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	h := http.StripPrefix("/storage", s.Handler())
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method == http.MethodPut {
			answered.Add(1)
		}
	})
	srv.Start()
	defer srv.Close()
	ctx := context.Background()
	key := storagetest.NewKey()
	id, err := s.CreateMultipart(ctx, key, storage.MultipartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 24, 8192
	body := strings.Repeat("x", size)
	addr := srv.Listener.Addr().String()
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	heads := make([]string, n)
	for i := range n {
		req, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: i + 1, Size: size, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(req.URL)
		heads[i] = fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.RequestURI(), addr, size)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		conns[i], readers[i] = c, bufio.NewReader(c)
		// One answered request: the server has accepted the connection.
		fmt.Fprintf(c, "GET /storage/x HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		res, err := http.ReadResponse(readers[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}

	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(open) + n/3)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	// Each PUT sends its headers and half its body: those the server
	// takes hold a temporary file each while the rest is awaited.
	for i, c := range conns {
		c.Write([]byte(heads[i] + body[:size/2]))
	}
	// Until every PUT is either answered (refused: none has its whole
	// body yet) or admitted and holding, and some were refused.
	for i := 0; ; i++ {
		s.mu.Lock()
		held := len(s.inFlight)
		s.mu.Unlock()
		if a := int(answered.Load()); a > 0 && a+held == n {
			break
		}
		if i == 2000 {
			restore()
			t.Fatalf("after 10s %d PUTs answered and %d held, of %d", answered.Load(), held, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	codes := map[int]int{}
	for i, c := range conns {
		c.Write([]byte(body[size/2:])) // refused ones have closed: the error is theirs
		res, err := http.ReadResponse(readers[i], nil)
		if err != nil {
			t.Errorf("PUT %d: %v", i+1, err)
			continue
		}
		res.Body.Close()
		codes[res.StatusCode]++
		if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
			t.Errorf("PUT %d: 503 without Retry-After", i+1)
		}
	}
	restore()
	if codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != n || codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers %v; want only 200 and 503, and some 503 (the limit was reached)", codes)
	}
}
