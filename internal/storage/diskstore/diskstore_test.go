package diskstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

func newTestStore(t *testing.T) (*Store, *httptest.Server) {
	t.Helper()
	s, srv, err := startStore(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

// startStore serves a store on dir from a test server.
func startStore(t *testing.T, dir string) (*Store, *httptest.Server, error) {
	srv := httptest.NewUnstartedServer(nil)
	s, err := New(dir, "http://"+srv.Listener.Addr().String()+"/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	srv.Config.Handler = http.StripPrefix("/storage", s.Handler())
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv, nil
}

func TestConformance(t *testing.T) { storagetest.Run(t, newHarness) }

func newHarness(t *testing.T) storagetest.Harness {
	return &harness{QuerySigned: storagetest.QuerySigned{Param: paramSignature}, t: t}
}

// harness makes stores in fresh folders, each served by its own server.
type harness struct {
	storagetest.QuerySigned
	t *testing.T
}

func (h *harness) MakeStore(context.Context) (storage.Store, error) {
	s, _, err := startStore(h.t, h.t.TempDir())
	return s, err
}

// MakeSkewedStore shares s's folder and key; s's server judges its URLs.
func (h *harness) MakeSkewedStore(_ context.Context, s storage.Store, d time.Duration) (storage.Store, error) {
	ds := s.(*Store)
	return &Store{root: ds.root, baseURL: ds.baseURL, key: ds.key, now: func() time.Time { return ds.now().Add(-d) }}, nil
}

// MakeRefusingStore is a store whose folder is a file, as when DATA_DIR
// names one: the operating system refuses every use.
func (h *harness) MakeRefusingStore(context.Context) (storage.Store, error) {
	dir := h.t.TempDir()
	s, _, err := startStore(h.t, dir)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	return s, os.WriteFile(dir, []byte("not a folder"), 0o600)
}

// MakeDownStore is a store whose folder has gone, as an unmounted
// volume's does.
func (h *harness) MakeDownStore(context.Context) (storage.Store, error) {
	dir := h.t.TempDir()
	s, _, err := startStore(h.t, dir)
	if err != nil {
		return nil, err
	}
	return s, os.RemoveAll(dir)
}

// TestKeysCannotEscape sends properly signed requests for keys that would
// name files outside the objects folder, so only the key check stands in
// their way. A safe key signed the same way is accepted, which shows the
// signing is right.
func TestKeysCannotEscape(t *testing.T) {
	dir := t.TempDir()
	s, srv, err := startStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("private"), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	exp := time.Now().Add(time.Minute).Unix()
	send := func(method, path, key string) (int, []byte) {
		t.Helper()
		q := url.Values{}
		q.Set(paramExpires, strconv.FormatInt(exp, 10))
		var body io.Reader
		if method == http.MethodPut {
			q.Set(paramSignature, s.sign(putClaims(key, exp, 1, "text/plain", "", "*")))
			body = strings.NewReader("x")
		} else {
			q.Set(paramDisposition, "attachment")
			q.Set(paramType, "text/plain")
			q.Set(paramSignature, s.sign(getClaims(key, exp, "attachment", "text/plain")))
		}
		req, err := http.NewRequest(method, srv.URL+path+"?"+q.Encode(), body)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPut {
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("If-None-Match", "*")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, b := send(http.MethodPut, "/storage/files/safe.bin", "files/safe.bin"); code != http.StatusOK {
		t.Fatalf("PUT of a safe key signed by the test: status %d: %s", code, b)
	}
	for path, key := range map[string]string{
		"/storage/../escaped":              "../escaped",
		"/storage/files/..%2f..%2fescaped": "files/../../escaped",
		"/storage/%2e%2e/escaped":          "../escaped",
		"/storage//etc/passwd":             "/etc/passwd",
		"/storage/files/a%00b":             "files/a\x00b",
	} {
		if code, _ := send(http.MethodPut, path, key); code < 400 || code >= 500 {
			t.Errorf("signed PUT %s: status %d, want 4xx", path, code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a PUT wrote outside the objects folder: %v", err)
	}
	for _, path := range []string{"/storage/../secret", "/storage/files/..%2f..%2fsecret"} {
		key := strings.ReplaceAll(strings.TrimPrefix(path, "/storage/"), "%2f", "/")
		if code, b := send(http.MethodGet, path, key); code < 400 || code >= 500 || strings.Contains(string(b), "private") {
			t.Errorf("signed GET %s: status %d, body %q; want 4xx", path, code, b)
		}
	}
	for _, key := range []string{"", "../x", "/abs", "a//b", "a/./b", "a/../b", "a\\b", "a b"} {
		if checkKey(key) == nil {
			t.Errorf("checkKey(%q) accepted", key)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := &Store{key: []byte(strings.Repeat("k", 32))}
	claims := putClaims("files/a.bin", 100, 10, "text/plain", "", "*")
	good := s.sign(claims)
	f.Add(claims, good)
	f.Add(claims, good[:len(good)-1])
	f.Add("PUT\nfiles/b.bin\n100\n10\ntext/plain\n\n*", good)
	f.Fuzz(func(t *testing.T, c, sig string) {
		if s.verify(c, sig) && s.sign(c) != strings.ToLower(sig) {
			t.Fatalf("verify accepted %q for claims %q", sig, c)
		}
	})
}

func BenchmarkPresignPut(b *testing.B) {
	s, err := New(b.TempDir(), "http://127.0.0.1:8080/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	opts := storage.PutOptions{Size: 1 << 20, ContentType: "image/jpeg", TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignPut(context.Background(), "files/0123456789abcdef0123456789abcdef.jpg", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMultipartConformance(t *testing.T) {
	storagetest.RunMultipart(t, newHarness)
}

// TestCompleteMemoryFlat: completing 64 MiB of parts allocates next to
// nothing (the kernel copies file to file), and the object is exact.
func TestCompleteMemoryFlat(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	key := storagetest.NewKey()
	body := make([]byte, 64<<20)
	rand.Read(body)
	id, err := s.CreateMultipart(ctx, key, storage.MultipartOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.UploadParts(t, s, key, id, storagetest.PartBodies(body, 16<<20), false)
	parts, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("completing 64 MiB allocated %d bytes, want under 1 MiB", alloc)
	}
	got, err := os.ReadFile(s.objectPath(key))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(body) {
		t.Error("the completed object differs from the parts")
	}
}

// TestCompletedUploadLeftover: a crash after the object's rename but before
// the upload folder went leaves both; the upload then reads as completed
// (gone), and its folder is cleared, so a retried save finds the object.
func TestCompletedUploadLeftover(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	key := storagetest.NewKey()
	id, err := s.CreateMultipart(ctx, key, storage.MultipartOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.UploadParts(t, s, key, id, [][]byte{[]byte("hello")}, false)
	storagetest.Upload(t, s, key, "text/plain", []byte("hello")) // the object as completion leaves it
	if _, err := s.ListParts(ctx, key, id); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("ListParts of a completed upload: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(s.uploadDir(id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the upload folder is still there: %v", err)
	}
	n := 0
	if err := s.ListMultipart(ctx, "", func(storage.MultipartUpload) error { n++; return nil }); err != nil {
		t.Fatalf("ListMultipart: %v", err)
	}
	if n != 0 {
		t.Errorf("ListMultipart lists %d uploads, want none", n)
	}
}

// TestInterruptedPartWithoutChecksum: the disk backend keeps no part whose
// PUT was cut off, checksum or not (the body must reach its signed length).
func TestInterruptedPartWithoutChecksum(t *testing.T) {
	s, _ := newTestStore(t)
	storagetest.InterruptedPart(t, s, false)
}

// TestCompleteStopsWithContext: a completion whose context has ended
// copies nothing more, leaves no object and no temporary file, and the
// upload can still be completed. Before, it copied the whole object anyway.
func TestCompleteStopsWithContext(t *testing.T) {
	s, _ := newTestStore(t)
	key := storagetest.NewKey()
	body := make([]byte, 3<<20)
	rand.Read(body)
	id, err := s.CreateMultipart(context.Background(), key, storage.MultipartOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.UploadParts(t, s, key, id, storagetest.PartBodies(body, 1<<20), false)
	parts, err := s.ListParts(context.Background(), key, id)
	if err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CompleteMultipart(ended, key, id, parts); !errors.Is(err, context.Canceled) || !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("completion with an ended context: %v, want ErrUnavailable (canceled)", err)
	}
	if _, err := os.Stat(s.objectPath(key)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("object after a cancelled completion: %v", err)
	}
	if files, n := tmpUse(t, s); files != 0 {
		t.Errorf("temporary folder holds %d files (%d bytes) after a cancelled completion", files, n)
	}
	if err := s.CompleteMultipart(context.Background(), key, id, parts); err != nil {
		t.Fatalf("completion after a cancelled one: %v", err)
	}
	if got, _ := os.ReadFile(s.objectPath(key)); sha256.Sum256(got) != sha256.Sum256(body) {
		t.Error("the completed object differs from the parts")
	}
}
