package diskstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// tmpUse is how many files the store's temporary folder holds, and how
// many bytes. What is not there (removed while listed) is nothing; any
// other error fails the test instead of reading as an empty folder.
func tmpUse(t *testing.T, s *Store) (files int, bytes int64) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(s.root, "tmp"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			var fi fs.FileInfo
			if fi, err = d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("listing the temporary folder: %v", err)
	}
	return files, bytes
}

// exists reports whether path is there; an error other than its absence
// fails the test instead of reading as "gone".
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// tmpBytes is what the store's temporary folder holds.
func tmpBytes(t *testing.T, s *Store) int64 {
	t.Helper()
	_, n := tmpUse(t, s)
	return n
}

// waitTmp waits until a PUT is streaming: its temporary file is there. (Its
// bytes may not be yet: a PUT writes whole chunks.)
func waitTmp(t *testing.T, s *Store) {
	t.Helper()
	for range 1000 {
		if files, _ := tmpUse(t, s); files > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no PUT is streaming after 10s")
}

// client bounds every request the package's tests send, so a PUT the
// store never answers fails instead of hanging until go test's timeout.
var client = &http.Client{Timeout: 2 * time.Minute}

// sendPut sends a PUT of the presigned request with body as its stream,
// declaring size bytes.
func sendPut(req storage.Request, body io.Reader, size int64) (*http.Response, error) {
	r, err := http.NewRequest(req.Method, req.URL, body)
	if err != nil {
		return nil, err
	}
	r.ContentLength = size
	for _, h := range req.Header {
		if !strings.EqualFold(h.Name, "Content-Length") {
			r.Header.Set(h.Name, h.Value)
		}
	}
	return client.Do(r)
}

// 20 parallel replays of one 1 MB URL while a PUT streams to it are each
// refused before their body is read (409), and after it is stored each is
// refused the same way (412): the temporary folder never holds more than
// the one body. Before, 20 replays put 20 MB there.
func TestParallelReplaysCostNoTemp(t *testing.T) {
	s, _ := newTestStore(t)
	const size = 1 << 20
	body := make([]byte, size)
	key := storagetest.NewKey()
	req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: size, ContentType: "application/octet-stream", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	// The first PUT sends half its body and holds.
	pr, pw := io.Pipe()
	defer pw.Close() // a failed test ends the PUT, rather than hang in the server's Close
	first := make(chan int, 1)
	go func() {
		res, err := sendPut(req, pr, size)
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	if _, err := pw.Write(body[:size/2]); err != nil {
		t.Fatal(err)
	}
	waitTmp(t, s)

	replay := func(want int) {
		t.Helper()
		var wg sync.WaitGroup
		codes := make(chan int, 20)
		for range 20 {
			wg.Go(func() {
				res, err := sendPut(req, strings.NewReader(string(body)), size)
				if err != nil {
					codes <- 0
					return
				}
				res.Body.Close()
				codes <- res.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != want {
				t.Errorf("replay: %d, want %d", c, want)
			}
		}
		if n := tmpBytes(t, s); n > size {
			t.Errorf("temporary folder holds %d bytes during replays, over one body (%d)", n, size)
		}
	}
	replay(http.StatusConflict)

	if _, err := pw.Write(body[size/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if c := <-first; c != http.StatusOK {
		t.Fatalf("first PUT: %d", c)
	}
	replay(http.StatusPreconditionFailed)
	if n := tmpBytes(t, s); n != 0 {
		t.Errorf("temporary folder holds %d bytes at the end", n)
	}
}

// A PUT may run only until the gate's deadline: a body trickled past it is
// cut off (408) and nothing is kept; a key the gate no longer knows is
// refused before its body is read, and one the gate forgets while the body
// streams is refused at the end.
func TestGateBoundsPuts(t *testing.T) {
	s, _ := newTestStore(t)
	var mu sync.Mutex
	pending := map[string]time.Time{}
	s.SetPutGate(func(_ context.Context, key string) (storage.Pending, error) {
		mu.Lock()
		defer mu.Unlock()
		return storage.Pending{Until: pending[key]}, nil
	})
	presign := func(until time.Time) (string, storage.Request) {
		key := storagetest.NewKey()
		req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: 10, ContentType: "text/plain", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		pending[key] = until
		mu.Unlock()
		return key, req
	}

	// Trickled past the deadline.
	_, req := presign(time.Now().Add(300 * time.Millisecond))
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("12345"))
	start := time.Now()
	res, err := sendPut(req, pr, 10)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("trickled PUT: %d, want 408", res.StatusCode)
	}
	// The store has no idle timeout here: only the deadline could cut it.
	t.Logf("trickled PUT cut off after %v (deadline 300ms)", time.Since(start))

	// Not pending: refused at once.
	key, req := presign(time.Time{})
	res = storagetest.Send(t, req, []byte("0123456789"))
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("PUT for no pending upload: %d, want 403", res.StatusCode)
	}

	// Forgotten while streaming (saved, deleted or swept meanwhile).
	key, req = presign(time.Now().Add(time.Minute))
	pr, pw = io.Pipe()
	defer pw.Close()
	done := make(chan int, 1)
	go func() {
		res, err := sendPut(req, pr, 10)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	pw.Write([]byte("01234"))
	waitTmp(t, s)
	mu.Lock()
	delete(pending, key)
	mu.Unlock()
	pw.Write([]byte("56789"))
	pw.Close()
	if c := <-done; c != http.StatusForbidden {
		t.Errorf("PUT whose upload went away meanwhile: %d, want 403", c)
	}
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("object of a refused PUT: %v", err)
	}
	if n := tmpBytes(t, s); n != 0 {
		t.Errorf("temporary folder holds %d bytes", n)
	}
	if exists(t, s.objectPath(key)) {
		t.Error("object written")
	}
}

// A download from disk storage can never run as a page of the API's
// origin: the uploader's HTML or SVG is neither sniffed nor allowed to
// script, even if its attachment disposition were lost.
func TestGetIsInert(t *testing.T) {
	s, _ := newTestStore(t)
	key := storagetest.NewKey()
	body := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>`)
	storagetest.Upload(t, s, key, "image/svg+xml", body)
	for _, typ := range []string{"image/svg+xml", "text/html"} {
		req, err := s.PresignGet(context.Background(), key, storage.GetOptions{FileName: "x.svg", ContentType: typ, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		res := storagetest.Send(t, req, nil)
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(got) != string(body) {
			t.Fatalf("GET: %d %q", res.StatusCode, got)
		}
		if h := res.Header.Get("X-Content-Type-Options"); h != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", typ, h)
		}
		if h := res.Header.Get("Content-Security-Policy"); h != "sandbox" {
			t.Errorf("%s: Content-Security-Policy %q", typ, h)
		}
	}
}

// TestMultiRangeGetsWholeObject: a GET of many ranges is answered with the
// whole object, as S3 answers it, so the answer is never larger than the
// object however many ranges are asked for; one range is served as asked.
// Before, 2,000 one-byte ranges of a 4 KiB object answered 291 KB.
func TestMultiRangeGetsWholeObject(t *testing.T) {
	s, _ := newTestStore(t)
	key := storagetest.NewKey()
	body := []byte(strings.Repeat("0123456789abcdef", 256))
	storagetest.Upload(t, s, key, "application/octet-stream", body)
	req, err := s.PresignGet(context.Background(), key, storage.GetOptions{FileName: "x.bin", ContentType: "application/octet-stream", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ranges string) (int, []byte) {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, req.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Range", ranges)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := http.DefaultClient.Do(r.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, got
	}
	many := make([]string, 2000)
	for i := range many {
		many[i] = strconv.Itoa(2*i) + "-" + strconv.Itoa(2*i)
	}
	if code, got := get("bytes=" + strings.Join(many, ",")); code != http.StatusOK || string(got) != string(body) {
		t.Errorf("2,000 ranges: %d with %d bytes, want 200 with the object's %d", code, len(got), len(body))
	}
	if code, got := get("bytes=16-31"); code != http.StatusPartialContent || string(got) != "0123456789abcdef" {
		t.Errorf("one range: %d %q, want 206 with its 16 bytes", code, got)
	}
}

// stalledPut starts a PUT of req that sends its headers and then whatever
// the test writes to the returned pipe; its status arrives on the channel
// (0 if the request failed). Closing the pipe ends the body.
func stalledPut(t *testing.T, req storage.Request, size int64) (*io.PipeWriter, <-chan int) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() }) // a failed test ends the PUT, rather than hang in the server's Close
	done := make(chan int, 1)
	go func() {
		res, err := sendPut(req, pr, size)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	return pw, done
}

// waitInFlight waits until n PUTs have been admitted.
func waitInFlight(t *testing.T, s *Store, n int) {
	t.Helper()
	for range 2000 {
		s.mu.Lock()
		k := len(s.inFlight)
		s.mu.Unlock()
		if k == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d PUTs admitted after 10s, want %d", len(s.inFlight), n)
}

// ownedUploads makes the store's gate say that each key presign returns
// is pending for a minute and owned by the user named.
func ownedUploads(s *Store) (presign func(t *testing.T, owner string, size int64) storage.Request) {
	var mu sync.Mutex
	owners := map[string]string{}
	s.SetPutGate(func(_ context.Context, key string) (storage.Pending, error) {
		mu.Lock()
		defer mu.Unlock()
		owner, ok := owners[key]
		if !ok {
			return storage.Pending{}, nil
		}
		return storage.Pending{Until: time.Now().Add(time.Minute), Owner: owner}, nil
	})
	return func(t *testing.T, owner string, size int64) storage.Request {
		t.Helper()
		key := storagetest.NewKey()
		req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: size, ContentType: "text/plain", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		owners[key] = owner
		mu.Unlock()
		return req
	}
}

// TestPutsInFlightBounded: past MaxPutsPerUser PUTs of one user, or
// MaxPuts in all, a PUT is refused with 503 and Retry-After before its body
// is read, while other users' PUTs still go in; once one ends, the next is
// taken. Before, every PUT was admitted, each for up to a day.
func TestPutsInFlightBounded(t *testing.T) {
	s, _ := newTestStore(t)
	s.limits = Limits{MaxPuts: 4, MaxPutsPerUser: 2}
	presign := ownedUploads(s)
	body := []byte("0123456789")
	probe := func(owner string, want int) {
		t.Helper()
		res, err := sendPut(presign(t, owner, 10), strings.NewReader(string(body)), 10)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("PUT of %s: %d, want %d", owner, res.StatusCode, want)
		}
		if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
			t.Errorf("PUT of %s: 503 without Retry-After", owner)
		}
	}

	ann, annDone := stalledPut(t, presign(t, "ann", 10), 10)
	stalledPut(t, presign(t, "ann", 10), 10)
	waitInFlight(t, s, 2)
	probe("ann", http.StatusServiceUnavailable) // ann's own bound
	refusedLetGo(t, presign(t, "ann", 10))
	stalledPut(t, presign(t, "bob", 10), 10)
	stalledPut(t, presign(t, "bob", 10), 10)
	waitInFlight(t, s, 4)
	probe("cid", http.StatusServiceUnavailable) // the bound of all
	if n := tmpBytes(t, s); n != 0 {
		t.Errorf("refused PUTs left %d bytes", n)
	}

	ann.Write(body)
	ann.Close()
	if c := <-annDone; c != http.StatusOK {
		t.Fatalf("ann's first PUT: %d", c)
	}
	waitInFlight(t, s, 3)
	probe("cid", http.StatusOK)
}

// TestSilentPutsHoldNoBuffers: PUTs admitted that have sent no byte yet
// hold no temporary file and no buffers (20 of them add less than one
// PUT's 4 MiB of heap). Before, each took its file and 4 MiB on admission.
func TestSilentPutsHoldNoBuffers(t *testing.T) {
	s, _ := newTestStore(t)
	presign := ownedUploads(s)
	const n = 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pipes := make([]*io.PipeWriter, n)
	results := make([]<-chan int, n)
	for i := range n {
		pipes[i], results[i] = stalledPut(t, presign(t, "ann", 10), 10)
	}
	waitInFlight(t, s, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if files, _ := tmpUse(t, s); files != 0 {
		t.Errorf("%d silent PUTs hold %d temporary files, want none", n, files)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > copyChunks*copyChunk {
		t.Errorf("%d silent PUTs hold %d bytes of heap, more than one PUT's buffers", n, grown)
	}
	for i := range n {
		pipes[i].Write([]byte("0123456789"))
		pipes[i].Close()
		if c := <-results[i]; c != http.StatusOK {
			t.Errorf("PUT %d: %d once its body came", i, c)
		}
	}
}

// TestIdlePutsCut: a PUT that sends nothing, and a part PUT that pauses
// longer than the idle timeout between bytes, are cut off (408) long
// before their uploads' deadline, and keep nothing. Before, both waited
// for the deadline (a part's: a day).
func TestIdlePutsCut(t *testing.T) {
	s, _ := newTestStore(t)
	s.limits.IdleTimeout = 200 * time.Millisecond
	s.SetPutGate(func(context.Context, string) (storage.Pending, error) {
		return storage.Pending{Until: time.Now().Add(time.Minute), Owner: "ann"}, nil
	})
	ctx := context.Background()
	key := storagetest.NewKey()

	req, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 10, ContentType: "text/plain", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, silent := stalledPut(t, req, 10)
	select {
	case c := <-silent:
		if c != http.StatusRequestTimeout {
			t.Errorf("silent PUT: %d, want 408", c)
		}
	case <-time.After(30 * time.Second):
		t.Error("silent PUT still running after 30s; its upload's deadline is a minute away")
	}

	id, err := s.CreateMultipart(ctx, key, storage.MultipartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req, err = s.PresignPart(ctx, key, id, storage.PartOptions{Number: 1, Size: 10, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pw, trickled := stalledPut(t, req, 10)
	trickle := make(chan struct{})
	go func() {
		defer close(trickle)
		for range 10 { // a byte every 3 idle timeouts, until the PUT is cut
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(600 * time.Millisecond)
		}
	}()
	select {
	case c := <-trickled:
		if c != http.StatusRequestTimeout {
			t.Errorf("trickled part PUT: %d, want 408", c)
		}
	case <-time.After(30 * time.Second):
		t.Error("trickled part PUT still running after 30s")
	}
	pw.Close()
	<-trickle
	if parts, err := s.ListParts(ctx, key, id); err != nil || len(parts) != 0 {
		t.Errorf("parts after a cut PUT: %v, %v", parts, err)
	}
	if n := tmpBytes(t, s); n != 0 {
		t.Errorf("temporary folder holds %d bytes", n)
	}
}

// refusedLetGo sends req's headers and none of its body: the 503 comes at
// once and then the server closes the connection, rather than wait for
// the body it will not take (net/http drains up to 256 KiB of one).
func refusedLetGo(t *testing.T, req storage.Request) {
	t.Helper()
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\nContent-Type: text/plain\r\nIf-None-Match: *\r\n\r\n", u.RequestURI(), u.Host)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("PUT without its body: %d, want 503", res.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after refusing a PUT the server keeps its connection: %v, want EOF", err)
	}
}
