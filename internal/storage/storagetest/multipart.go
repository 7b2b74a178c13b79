package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

// RunMultipart runs the suite for uploads in parts, each test on a fresh
// store of the harness's: parts sent as a browser sends them (in parallel), the signed size and checksum enforced,
// listing, completion, abort, and a part PUT twice. For S3 the smallest
// part but the last is 5 MiB, so the suite moves some tens of MiB.
func RunMultipart(t *testing.T, newHarness HarnessMaker) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness, s storage.Multipart, objects storage.Store)
	}{
		{"Complete", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) {
			testMultipartComplete(t, s, objects)
		}},
		{"SignedSize", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) { testPartSize(t, s, objects) }},
		{"Checksums", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) {
			testPartChecksums(t, s, objects)
		}},
		{"Tampered", func(t *testing.T, h Harness, s storage.Multipart, _ storage.Store) { testPartTampered(t, h, s) }},
		{"ReplacePart", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) {
			testReplacePart(t, s, objects)
		}},
		{"Abort", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) { testAbort(t, s, objects) }},
		{"CompleteTwice", func(t *testing.T, _ Harness, s storage.Multipart, objects storage.Store) {
			testCompleteTwice(t, s, objects)
		}},
		{"InterruptedPart", func(t *testing.T, _ Harness, s storage.Multipart, _ storage.Store) {
			testInterruptedPart(t, s, true)
		}},
		{"ListMultipart", func(t *testing.T, _ Harness, _ storage.Multipart, objects storage.Store) {
			testListMultipart(t, objects, objects)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			objects, err := h.MakeStore(context.Background())
			if err != nil {
				t.Fatalf("MakeStore: %v", err)
			}
			tt.fn(t, h, objects, objects)
		})
	}
}

// PartBodies splits body into parts of partSize (the last may be shorter).
func PartBodies(body []byte, partSize int) [][]byte {
	var parts [][]byte
	for len(body) > partSize {
		parts = append(parts, body[:partSize])
		body = body[partSize:]
	}
	return append(parts, body)
}

// SendErr is Send for other goroutines: it returns what went wrong, or the
// status and body of a refusal.
func SendErr(req storage.Request, body []byte) error {
	r, err := http.NewRequest(req.Method, req.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range req.Header {
		if !strings.EqualFold(h.Name, "Content-Length") {
			r.Header.Set(h.Name, h.Value)
		}
	}
	res, err := client.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return fmt.Errorf("%s part: status %d: %s", req.Method, res.StatusCode, b)
	}
	return nil
}

// UploadParts presigns and PUTs every part, all at once, and fails the
// test unless the store takes each.
func UploadParts(t testing.TB, s storage.Multipart, key, uploadID string, parts [][]byte, checksums bool) {
	t.Helper()
	ctx := context.Background()
	errs := make(chan error, len(parts))
	for i, body := range parts {
		opts := storage.PartOptions{Number: i + 1, Size: int64(len(body)), TTL: ttl}
		if checksums {
			opts.ChecksumSHA256 = sum(body)
		}
		req, err := s.PresignPart(ctx, key, uploadID, opts)
		if err != nil {
			t.Fatalf("PresignPart %d: %v", i+1, err)
		}
		go func() { errs <- SendErr(req, body) }()
	}
	for range parts {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

func listParts(t testing.TB, s storage.Multipart, key, uploadID string) []storage.Part {
	t.Helper()
	parts, err := s.ListParts(context.Background(), key, uploadID)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	return parts
}

func create(t testing.TB, s storage.Multipart, key string, opts storage.MultipartOptions) string {
	t.Helper()
	id, err := s.CreateMultipart(context.Background(), key, opts)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	if id == "" {
		t.Fatal("CreateMultipart returned an empty id")
	}
	return id
}

// download GETs key and returns its bytes.
func download(t testing.TB, objects storage.Store, key string) []byte {
	t.Helper()
	get, err := objects.PresignGet(context.Background(), key, storage.GetOptions{FileName: "a.bin", ContentType: "application/octet-stream", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	res := Send(t, get, nil)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET: status %d: %s", res.StatusCode, b)
	}
	return b
}

func testMultipartComplete(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	body := randomBytes(2*storage.MinPartSize + 1000)
	parts := PartBodies(body, storage.MinPartSize)
	id := create(t, s, key, storage.MultipartOptions{ContentType: "video/mp4"})
	if got := listParts(t, s, key, id); len(got) != 0 {
		t.Errorf("a new upload lists parts %+v", got)
	}

	req, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 3, Size: 1000, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != http.MethodPut {
		t.Errorf("method = %q, want PUT", req.Method)
	}
	found := false
	for _, h := range req.Header {
		if strings.EqualFold(h.Name, "host") {
			t.Errorf("headers list Host, which browsers cannot set")
		}
		if strings.EqualFold(h.Name, "content-length") {
			found = h.Value == "1000"
		}
	}
	if !found {
		t.Errorf("headers %v do not carry Content-Length: 1000", req.Header)
	}

	UploadParts(t, s, key, id, parts, false)
	assertMissing(t, objects, key) // nothing visible before completion
	listed := listParts(t, s, key, id)
	if len(listed) != len(parts) {
		t.Fatalf("ListParts = %+v, want %d parts", listed, len(parts))
	}
	for i, p := range listed {
		if p.Number != i+1 || p.Size != int64(len(parts[i])) || p.ETag == "" {
			t.Errorf("part %d listed as %+v, want number %d size %d and an ETag", i+1, p, i+1, len(parts[i]))
		}
	}
	if err := s.CompleteMultipart(ctx, key, id, listed); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	obj, err := objects.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if obj.Size != int64(len(body)) || obj.ContentType != "video/mp4" {
		t.Errorf("Stat = %+v, want size %d type video/mp4", obj, len(body))
	}
	if got := download(t, objects, key); !bytes.Equal(got, body) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(body))
	}
	if _, err := s.ListParts(ctx, key, id); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("ListParts after completion: %v, want ErrNotExist", err)
	}
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart after completion: %v, want nil", err)
	}
	if _, err := objects.Stat(ctx, key); err != nil {
		t.Errorf("abort after completion removed the object: %v", err)
	}
}

func testPartSize(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	id := create(t, s, key, storage.MultipartOptions{ContentType: "application/octet-stream"})
	req, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 1, Size: 1000, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{999, 1001, 0} {
		if err := SendErr(req, randomBytes(n)); err == nil {
			t.Errorf("a part of %d bytes on a URL signed for 1000 was taken", n)
		}
	}
	if got := listParts(t, s, key, id); len(got) != 0 {
		t.Errorf("refused parts are listed: %+v", got)
	}
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatal(err)
	}
}

func testPartChecksums(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	body := randomBytes(storage.MinPartSize + 500)
	parts := PartBodies(body, storage.MinPartSize)
	id := create(t, s, key, storage.MultipartOptions{ContentType: "application/zip", PartChecksums: true})

	// Signed for the checksum of parts[1], sent with other bytes of that length.
	req, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 2, Size: 500, ChecksumSHA256: sum(parts[1]), TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := SendErr(req, randomBytes(500)); err == nil {
		t.Error("a part that does not match its signed checksum was taken")
	}
	if got := listParts(t, s, key, id); len(got) != 0 {
		t.Errorf("a refused part is listed: %+v", got)
	}

	UploadParts(t, s, key, id, parts, true)
	listed := listParts(t, s, key, id)
	if len(listed) != 2 {
		t.Fatalf("ListParts = %+v, want 2 parts", listed)
	}
	for i, p := range listed {
		if p.ChecksumSHA256 != sum(parts[i]) {
			t.Errorf("part %d lists checksum %q, want %q", i+1, p.ChecksumSHA256, sum(parts[i]))
		}
	}
	if err := s.CompleteMultipart(ctx, key, id, listed); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	if got := download(t, objects, key); !bytes.Equal(got, body) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(body))
	}
}

func testPartTampered(t *testing.T, h Harness, s storage.Multipart) {
	ctx := context.Background()
	key := NewKey()
	id := create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})
	body := randomBytes(100)
	presign := func() storage.Request {
		req, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 1, Size: 100, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	withQuery := func(req storage.Request, name, value string) storage.Request {
		u, _ := url.Parse(req.URL)
		q := u.Query()
		q.Set(name, value)
		u.RawQuery = q.Encode()
		req.URL = u.String()
		return req
	}
	other := create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})
	for name, req := range map[string]storage.Request{
		"AlteredSignature": h.ForgeSignature(presign()),
		"OtherPartNumber":  withQuery(presign(), "partNumber", "2"),
		"OtherUpload":      withQuery(presign(), "uploadId", other),
	} {
		if err := SendErr(req, body); err == nil {
			t.Errorf("%s: the part was taken", name)
		}
	}
	for _, u := range []string{id, other} {
		if got := listParts(t, s, key, u); len(got) != 0 {
			t.Errorf("refused parts are listed: %+v", got)
		}
		if err := s.AbortMultipart(ctx, key, u); err != nil {
			t.Fatal(err)
		}
	}
}

// testReplacePart: a part PUT again before completion replaces the first.
func testReplacePart(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	first, second := randomBytes(3000), randomBytes(3000)
	id := create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})
	UploadParts(t, s, key, id, [][]byte{first}, false)
	before := listParts(t, s, key, id)
	UploadParts(t, s, key, id, [][]byte{second}, false)
	after := listParts(t, s, key, id)
	if len(after) != 1 || after[0].Size != 3000 {
		t.Fatalf("ListParts after a re-PUT = %+v, want one part of 3000 bytes", after)
	}
	if after[0].ETag == before[0].ETag {
		t.Errorf("the re-PUT part kept the ETag %s of the first", after[0].ETag)
	}
	// Completing with the replaced part's ETag is refused.
	if err := s.CompleteMultipart(ctx, key, id, before); !errors.Is(err, storage.ErrInvalidPart) {
		t.Errorf("CompleteMultipart with a replaced part: %v, want ErrInvalidPart", err)
	}
	if err := s.CompleteMultipart(ctx, key, id, after); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	if got := download(t, objects, key); !bytes.Equal(got, second) {
		t.Errorf("the object holds the first PUT's bytes, not the second's")
	}
}

func testAbort(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	id := create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})
	UploadParts(t, s, key, id, [][]byte{randomBytes(100)}, false)
	late, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 2, Size: 10, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	if _, err := s.ListParts(ctx, key, id); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("ListParts after abort: %v, want ErrNotExist", err)
	}
	if err := SendErr(late, randomBytes(10)); err == nil {
		t.Error("a part PUT after abort was taken")
	}
	if err := s.CompleteMultipart(ctx, key, id, []storage.Part{{Number: 1, Size: 100}}); err == nil {
		t.Error("CompleteMultipart after abort succeeded")
	}
	assertMissing(t, objects, key)
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("a second AbortMultipart: %v, want nil", err)
	}
}

// testCompleteTwice: completing again, as a retried save does after a
// crash, finds the upload gone and the object there.
func testCompleteTwice(t *testing.T, s storage.Multipart, objects storage.Store) {
	ctx := context.Background()
	key := NewKey()
	body := randomBytes(2000)
	id := create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})
	UploadParts(t, s, key, id, [][]byte{body}, false)
	parts := listParts(t, s, key, id)
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	if err := s.CompleteMultipart(ctx, key, id, parts); err != nil && !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("a second CompleteMultipart: %v, want nil or ErrNotExist", err)
	}
	if got := download(t, objects, key); !bytes.Equal(got, body) {
		t.Errorf("the object changed after a second completion")
	}
}

func testListMultipart(t *testing.T, s storage.Multipart, l storage.MultipartLister) {
	ctx := context.Background()
	prefix := "mp" + NewKey()[6:14] + "/"
	open := map[string]string{}
	for range 3 {
		key := prefix + NewKey()
		open[create(t, s, key, storage.MultipartOptions{ContentType: "text/plain"})] = key
	}
	aborted := prefix + NewKey()
	id := create(t, s, aborted, storage.MultipartOptions{ContentType: "text/plain"})
	if err := s.AbortMultipart(ctx, aborted, id); err != nil {
		t.Fatal(err)
	}
	completed := prefix + NewKey()
	id = create(t, s, completed, storage.MultipartOptions{ContentType: "text/plain"})
	UploadParts(t, s, completed, id, [][]byte{randomBytes(10)}, false)
	if err := s.CompleteMultipart(ctx, completed, id, listParts(t, s, completed, id)); err != nil {
		t.Fatal(err)
	}
	create(t, s, NewKey(), storage.MultipartOptions{ContentType: "text/plain"}) // another prefix

	got := map[string]string{}
	err := l.ListMultipart(ctx, prefix, func(u storage.MultipartUpload) error {
		got[u.UploadID] = u.Key
		if u.Initiated.IsZero() {
			t.Errorf("upload %s has no initiation time", u.UploadID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ListMultipart: %v", err)
	}
	if len(got) != len(open) {
		t.Errorf("ListMultipart(%s) = %v, want %v", prefix, got, open)
	}
	for id, key := range open {
		if got[id] != key {
			t.Errorf("ListMultipart misses %s (%s)", key, id)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := l.ListMultipart(ctx, prefix, func(storage.MultipartUpload) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListMultipart did not stop at fn's error: %v after %d uploads", err, n)
	}
}

// stallingBody sends its bytes, then holds the request open until ctx
// ends: a browser tab closed or reloaded in the middle of a part.
type stallingBody struct {
	b   []byte
	ctx context.Context
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if len(b.b) == 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	return n, nil
}

// SendInterrupted starts req with body, sends its first fifth, then gives
// up as a closed tab does.
func SendInterrupted(t testing.TB, req storage.Request, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URL, &stallingBody{b: body[:len(body)/5], ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = int64(len(body))
	for _, h := range req.Header {
		if !strings.EqualFold(h.Name, "Content-Length") {
			r.Header.Set(h.Name, h.Value)
		}
	}
	if res, err := client.Do(r); err == nil {
		res.Body.Close()
		t.Fatalf("an interrupted PUT succeeded: status %d", res.StatusCode)
	}
}

// testInterruptedPart: a part whose PUT is cut off is not kept, not even at
// its signed size; the same URL then takes the whole part, so the refusal
// was the interruption's and not the URL's. (versitygw v1.8.0 keeps one
// without a checksum at its full size, zero-filled; with the checksum it
// does not, so the suite holds both backends to this with part checksums,
// signed for the part's own bytes, and the disk backend's own test
// without.)
func testInterruptedPart(t *testing.T, s storage.Multipart, checksums bool) {
	ctx := context.Background()
	key := NewKey()
	id := create(t, s, key, storage.MultipartOptions{ContentType: "application/octet-stream", PartChecksums: checksums})
	body := randomBytes(storage.MinPartSize)
	opts := storage.PartOptions{Number: 1, Size: int64(len(body)), TTL: ttl}
	if checksums {
		opts.ChecksumSHA256 = sum(body)
	}
	req, err := s.PresignPart(ctx, key, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	SendInterrupted(t, req, body)
	// No answer tells when the store has dropped the cut request; a part
	// it kept would be written by now.
	time.Sleep(300 * time.Millisecond)
	if got := listParts(t, s, key, id); len(got) != 0 {
		t.Errorf("an interrupted part is listed: %+v", got)
	}

	// The disk store answers 409 while it still holds the cut PUT.
	deadline := time.Now().Add(10 * time.Second)
	for err = SendErr(req, body); err != nil && strings.Contains(err.Error(), "status 409") && time.Now().Before(deadline); err = SendErr(req, body) {
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the whole part, sent again on the same URL: %v", err)
	}
	listed := listParts(t, s, key, id)
	if len(listed) != 1 || listed[0].Size != int64(len(body)) || checksums && listed[0].ChecksumSHA256 != sum(body) {
		t.Fatalf("after the whole part: %+v, want it alone", listed)
	}
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatal(err)
	}
}

// InterruptedPart runs the interrupted-part test on s, for a backend's own tests.
func InterruptedPart(t *testing.T, s storage.Multipart, checksums bool) {
	testInterruptedPart(t, s, checksums)
}
