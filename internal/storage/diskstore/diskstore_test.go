package diskstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

func newTestStore(t *testing.T) (*Store, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	s, err := New(t.TempDir(), "http://"+srv.Listener.Addr().String()+"/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.StripPrefix("/storage", s.Handler())
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv
}

func TestConformance(t *testing.T) {
	s, _ := newTestStore(t)
	storagetest.Run(t, s)
}

func TestKeysCannotEscape(t *testing.T) {
	_, srv := newTestStore(t)
	for _, path := range []string{"/storage/../signing.key", "/storage/files/..%2f..%2fsigning.key", "/storage/%2e%2e/x", "/storage//etc/passwd", "/storage/files/a%00b"} {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+path+"?X-Expires=9999999999&X-Signature=00", strings.NewReader("x"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("PUT %s: status %d, want 4xx", path, res.StatusCode)
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
	s, _ := newTestStore(t)
	storagetest.RunMultipart(t, s, s)
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
	s.ListMultipart(ctx, "", func(storage.MultipartUpload) error { n++; return nil })
	if n != 0 {
		t.Errorf("ListMultipart lists %d uploads, want none", n)
	}
}
