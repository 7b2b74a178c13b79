// Package storagetest is the conformance suite every storage.Store backend
// runs, so that disk and S3 behave alike by construction: the same presigned
// PUT and GET sent as a browser sends them, and the same refusals.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

const ttl = time.Minute

// Harness is what a backend hands the suite, after gocloud.dev's drivertest:
// fresh stores, and the tampering only the backend knows how to do, so the
// suite itself knows no backend.
type Harness interface {
	// MakeStore returns a store on a new, empty bucket (or folder).
	MakeStore(ctx context.Context) (storage.Store, error)
	// MakeSkewedStore returns a store on s's bucket whose clock runs d
	// behind: what it presigns reaches s's bucket d older than it says.
	MakeSkewedStore(ctx context.Context, s storage.Store, d time.Duration) (storage.Store, error)
	// MakeRefusingStore returns a store whose bucket answers and refuses on
	// grounds retrying cannot fix (credentials it does not accept, a folder
	// the server may not use): calls fail with storage.ErrMisconfigured.
	MakeRefusingStore(ctx context.Context) (storage.Store, error)
	// MakeDownStore returns a store that cannot be reached (nothing
	// answers at its address, its folder is gone): calls fail with
	// storage.ErrUnavailable.
	MakeDownStore(ctx context.Context) (storage.Store, error)

	// ForgeSignature returns req with its signature changed, nothing else.
	ForgeSignature(req storage.Request) storage.Request
	// Retarget returns req aimed at key, its signature unchanged.
	Retarget(req storage.Request, key string) storage.Request
	// Unsign returns req with its signature left out.
	Unsign(req storage.Request) storage.Request
}

// HarnessMaker makes the harness for one test; it registers its own
// cleanup with t.
type HarnessMaker func(t *testing.T) Harness

// Run runs the suite, each test on a store of its own.
func Run(t *testing.T, newHarness HarnessMaker) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness, s storage.Store)
	}{
		{"PutStatGet", testPutStatGet},
		{"ServerPut", testServerPut},
		{"Checksum", testChecksum},
		{"Refusals", testRefusals},
		{"WriteOnce", testWriteOnce},
		{"Expired", testExpired},
		{"StatDeleteMissing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"Ping", testPing},
		{"Misconfigured", testMisconfigured},
		{"Down", testDown},
		{"Copy", testCopy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s, err := h.MakeStore(context.Background())
			if err != nil {
				t.Fatalf("MakeStore: %v", err)
			}
			tt.fn(t, h, s)
		})
	}
}

// QuerySigned is the tampering for URLs that carry their signature in the
// query parameter Param and end in the key, as both backends' URLs do; a
// harness embeds it.
type QuerySigned struct{ Param string }

// ForgeSignature flips one hex digit of the signature.
func (q QuerySigned) ForgeSignature(req storage.Request) storage.Request {
	u, v := q.parse(req)
	sig := []byte(v.Get(q.Param))
	if len(sig) == 0 {
		panic("storagetest: no " + q.Param + " in " + req.URL)
	}
	if sig[0] == '0' {
		sig[0] = '1'
	} else {
		sig[0] = '0'
	}
	v.Set(q.Param, string(sig))
	u.RawQuery = v.Encode()
	req.URL = u.String()
	return req
}

// Retarget replaces the key at the end of the path.
func (q QuerySigned) Retarget(req storage.Request, key string) storage.Request {
	u, _ := q.parse(req)
	i := strings.LastIndex(u.Path, "files/")
	if i < 0 {
		panic("storagetest: no key in " + req.URL)
	}
	u.Path = u.Path[:i] + key
	u.RawPath = ""
	req.URL = u.String()
	return req
}

// Unsign drops the query.
func (q QuerySigned) Unsign(req storage.Request) storage.Request {
	u, _ := q.parse(req)
	u.RawQuery = ""
	req.URL = u.String()
	return req
}

func (q QuerySigned) parse(req storage.Request) (*url.URL, url.Values) {
	u, err := url.Parse(req.URL)
	if err != nil {
		panic("storagetest: " + err.Error())
	}
	return u, u.Query()
}

// NewKey returns a fresh key of the shape the server makes.
func NewKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "files/" + hex.EncodeToString(b) + ".bin"
}

// client bounds every request the suite sends, so a store that never
// answers fails the test rather than hanging it.
var client = &http.Client{Timeout: 30 * time.Second}

// Send sends a presigned request the way a browser does: the URL as given,
// exactly the listed headers, and body.
func Send(t testing.TB, req storage.Request, body []byte) *http.Response {
	t.Helper()
	r, err := http.NewRequest(req.Method, req.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	for _, h := range req.Header {
		if strings.EqualFold(h.Name, "Content-Length") {
			continue // set from the body, as browsers do
		}
		r.Header.Set(h.Name, h.Value)
	}
	res, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return res
}

// Upload presigns a PUT for body and sends it, failing the test unless the
// store accepts it.
func Upload(t testing.TB, s storage.Store, key, contentType string, body []byte) {
	t.Helper()
	req, err := s.PresignPut(context.Background(), key, storage.PutOptions{Size: int64(len(body)), ContentType: contentType, TTL: ttl})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	res := Send(t, req, body)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("PUT: status %d: %s", res.StatusCode, b)
	}
}

func testPutStatGet(t *testing.T, _ Harness, s storage.Store) {
	ctx := context.Background()
	key, body := NewKey(), randomBytes(100_000)
	req, err := s.PresignPut(ctx, key, storage.PutOptions{Size: int64(len(body)), ContentType: "application/pdf", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if req.Method != http.MethodPut {
		t.Errorf("method = %q, want PUT", req.Method)
	}
	if d := time.Until(req.ExpiresAt); d < ttl-5*time.Second || d > ttl+time.Second {
		t.Errorf("expires in %v, want about %v", d, ttl)
	}
	want := map[string]string{"content-length": "100000", "content-type": "application/pdf"}
	for _, h := range req.Header {
		if strings.EqualFold(h.Name, "host") {
			t.Errorf("headers list Host, which browsers cannot set")
		}
		if v, ok := want[strings.ToLower(h.Name)]; ok {
			if h.Value != v {
				t.Errorf("header %s = %q, want %q", h.Name, h.Value, v)
			}
			delete(want, strings.ToLower(h.Name))
		}
	}
	if len(want) > 0 {
		t.Errorf("headers %v missing from %v", want, req.Header)
	}
	res := Send(t, req, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT status %d", res.StatusCode)
	}

	obj, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if obj.Size != int64(len(body)) || obj.ContentType != "application/pdf" {
		t.Errorf("Stat = %+v, want size %d type application/pdf", obj, len(body))
	}
	r, err := s.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	read, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(read, body) {
		t.Errorf("Open read %d bytes (err %v) that differ from the %d uploaded", len(read), err, len(body))
	}

	name := "Résumé final \"v2\".pdf"
	get, err := s.PresignGet(ctx, key, storage.GetOptions{FileName: name, ContentType: "application/pdf", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	res = Send(t, get, nil)
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET status %d: %s", res.StatusCode, got)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(body))
	}
	if cd := res.Header.Get("Content-Disposition"); cd != storage.ContentDisposition(name) {
		t.Errorf("Content-Disposition = %q, want %q", cd, storage.ContentDisposition(name))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type = %q, want application/pdf", ct)
	}
}

func testChecksum(t *testing.T, _ Harness, s storage.Store) {
	ctx := context.Background()
	body := randomBytes(1000)
	sum := sha256.Sum256(body)
	checksum := base64.StdEncoding.EncodeToString(sum[:])

	put := func(key, checksum string, body []byte) int {
		req, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 1000, ContentType: "text/plain", ChecksumSHA256: checksum, TTL: ttl})
		if err != nil {
			t.Fatalf("PresignPut: %v", err)
		}
		res := Send(t, req, body)
		res.Body.Close()
		return res.StatusCode
	}
	key := NewKey()
	if code := put(key, checksum, body); code != http.StatusOK {
		t.Fatalf("PUT with the right checksum: status %d", code)
	}
	obj, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if obj.ChecksumSHA256 != checksum {
		t.Errorf("Stat checksum = %q, want %q", obj.ChecksumSHA256, checksum)
	}

	other := randomBytes(1000)
	key = NewKey()
	if code := put(key, checksum, other); code < 400 {
		t.Errorf("PUT of another body of the same length: status %d, want refusal", code)
	}
	assertMissing(t, s, key)
}

func testRefusals(t *testing.T, h Harness, s storage.Store) {
	ctx := context.Background()
	body := randomBytes(1000)
	presign := func(key string) storage.Request {
		req, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 1000, ContentType: "image/png", TTL: ttl})
		if err != nil {
			t.Fatalf("PresignPut: %v", err)
		}
		return req
	}
	tests := []struct {
		name string
		send func(key string) *http.Response
	}{
		{"BodyLonger", func(key string) *http.Response { return Send(t, presign(key), randomBytes(1001)) }},
		{"BodyShorter", func(key string) *http.Response { return Send(t, presign(key), body[:999]) }},
		{"EmptyBody", func(key string) *http.Response { return Send(t, presign(key), nil) }},
		{"OtherContentType", func(key string) *http.Response {
			req := presign(key)
			req.Header = withHeader(req.Header, "Content-Type", "text/html")
			return Send(t, req, body)
		}},
		{"AlteredSignature", func(key string) *http.Response { return Send(t, h.ForgeSignature(presign(key)), body) }},
		{"OtherKey", func(key string) *http.Response { return Send(t, h.Retarget(presign(NewKey()), key), body) }},
		{"Unsigned", func(key string) *http.Response { return Send(t, h.Unsign(presign(key)), body) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := NewKey()
			res := tt.send(key)
			res.Body.Close()
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Errorf("status %d, want a 4xx refusal", res.StatusCode)
			}
			assertMissing(t, s, key)
		})
	}
}

// testWriteOnce: replaying an upload URL cannot replace the object.
func testWriteOnce(t *testing.T, _ Harness, s storage.Store) {
	ctx := context.Background()
	key, first, second := NewKey(), randomBytes(100), randomBytes(100)
	req, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 100, ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	res := Send(t, req, first)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("first PUT: status %d", res.StatusCode)
	}
	res = Send(t, req, second)
	res.Body.Close()
	if res.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("second PUT to the same URL: status %d, want 412", res.StatusCode)
	}
	// Leaving out If-None-Match breaks the signature.
	res = Send(t, storage.Request{Method: req.Method, URL: req.URL, Header: withHeader(req.Header, "If-None-Match", "")}, second)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT without If-None-Match: status %d, want a refusal", res.StatusCode)
	}
	get, err := s.PresignGet(ctx, key, storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	res = Send(t, get, nil)
	defer res.Body.Close()
	if got, _ := io.ReadAll(res.Body); !bytes.Equal(got, first) {
		t.Errorf("the object changed after a refused PUT")
	}
}

// testExpired presigns with a store whose clock runs behind, so the URLs
// arrive expired without the test waiting for them to.
func testExpired(t *testing.T, h Harness, s storage.Store) {
	ctx := context.Background()
	const skew = ttl + 30*time.Second
	late, err := h.MakeSkewedStore(ctx, s, skew)
	if err != nil {
		t.Fatalf("MakeSkewedStore: %v", err)
	}
	body := randomBytes(10)
	// The skew alone is no reason to refuse: a URL that outlives it works.
	longer, err := late.PresignPut(ctx, NewKey(), storage.PutOptions{Size: 10, ContentType: "text/plain", TTL: 2 * skew})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	res := Send(t, longer, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT signed %v ago, valid for %v: status %d, want 200", skew, 2*skew, res.StatusCode)
	}

	key := NewKey()
	put, err := late.PresignPut(ctx, key, storage.PutOptions{Size: 10, ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	res = Send(t, put, body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("expired PUT: status %d, want 403", res.StatusCode)
	}
	assertMissing(t, s, key)

	other := NewKey()
	Upload(t, s, other, "text/plain", body)
	get, err := late.PresignGet(ctx, other, storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	res = Send(t, get, nil)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("expired GET: status %d, want 403", res.StatusCode)
	}
}

func testMissing(t *testing.T, _ Harness, s storage.Store) {
	key := NewKey()
	assertMissing(t, s, key)
	if err := s.Delete(context.Background(), key); err != nil {
		t.Errorf("Delete of a missing object: %v, want nil", err)
	}
}

func testDelete(t *testing.T, _ Harness, s storage.Store) {
	ctx := context.Background()
	key := NewKey()
	Upload(t, s, key, "text/plain", []byte("hello"))
	get, err := s.PresignGet(ctx, key, storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertMissing(t, s, key)
	res := Send(t, get, nil)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET after delete: status %d, want 404", res.StatusCode)
	}
}

// testList lists what was uploaded under a prefix, and nothing else: not
// other prefixes, not deleted objects, not an upload that was refused.
func testList(t *testing.T, _ Harness, s storage.Store) {
	ctx := context.Background()
	prefix := "list" + hex.EncodeToString([]byte(NewKey()[6:10])) + "/"
	want := map[string]bool{}
	for i := range 3 {
		key := prefix + NewKey()
		Upload(t, s, key, "text/plain", []byte{byte('a' + i)})
		want[key] = true
	}
	gone := prefix + NewKey()
	Upload(t, s, gone, "text/plain", []byte("x"))
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	refused := prefix + NewKey()
	put, err := s.PresignPut(ctx, refused, storage.PutOptions{Size: 5, ContentType: "text/plain", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	Send(t, put, []byte("abc")).Body.Close() // short: refused
	Upload(t, s, NewKey(), "text/plain", []byte("elsewhere"))

	got := map[string]bool{}
	if err := s.List(ctx, prefix, func(key string) error { got[key] = true; return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("List(%s) = %v, want %v", prefix, got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("List misses %s", k)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.List(ctx, prefix, func(string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("List did not stop at fn's error: %v after %d keys", err, n)
	}
}

func testPing(t *testing.T, _ Harness, s storage.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testMisconfigured: a store that refuses the server is a configuration
// problem, never an outage (clients would retry forever) and never a
// missing object (reconcile would delete the rows).
func testMisconfigured(t *testing.T, h Harness, _ storage.Store) {
	s, err := h.MakeRefusingStore(context.Background())
	if err != nil {
		t.Fatalf("MakeRefusingStore: %v", err)
	}
	for op, err := range calls(t, s) {
		if !errors.Is(err, storage.ErrMisconfigured) || errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s on a refusing store: %v, want only ErrMisconfigured", op, err)
		}
	}
}

// testDown: a store that cannot be reached is unavailable, and says so
// within the caller's deadline.
func testDown(t *testing.T, h Harness, _ storage.Store) {
	s, err := h.MakeDownStore(context.Background())
	if err != nil {
		t.Fatalf("MakeDownStore: %v", err)
	}
	for op, err := range calls(t, s) {
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrMisconfigured) || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s on a store that is down: %v, want only ErrUnavailable", op, err)
		}
	}
}

// calls makes every call that reaches the store, each bounded by a
// deadline, and returns their errors by name.
func calls(t *testing.T, s storage.Store) map[string]error {
	errs := map[string]error{}
	do := func(op string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		errs[op] = f(ctx)
		if ctx.Err() != nil {
			t.Errorf("%s ran into its deadline: a store that cannot answer must say so sooner", op)
		}
	}
	key := NewKey()
	do("Ping", func(ctx context.Context) error { return s.Ping(ctx) })
	do("Stat", func(ctx context.Context) error { _, err := s.Stat(ctx, key); return err })
	do("Delete", func(ctx context.Context) error { return s.Delete(ctx, key) })
	do("Put", func(ctx context.Context) error { return s.Put(ctx, key, []byte("x"), "text/plain") })
	do("Open", func(ctx context.Context) error {
		r, err := s.Open(ctx, key)
		if err == nil {
			r.Close()
		}
		return err
	})
	do("List", func(ctx context.Context) error {
		return s.List(ctx, "files/", func(string) error { return nil })
	})
	do("CreateMultipart", func(ctx context.Context) error {
		_, err := s.CreateMultipart(ctx, key, storage.MultipartOptions{ContentType: "text/plain"})
		return err
	})
	// An upload id of the shape stores make, so the call gets as far as
	// the store: a store that cannot be used must not say "no such upload"
	// (the rules would take the upload for completed or aborted).
	const uploadID = "0123456789abcdef0123456789abcdef"
	do("ListParts", func(ctx context.Context) error { _, err := s.ListParts(ctx, key, uploadID); return err })
	do("CompleteMultipart", func(ctx context.Context) error {
		return s.CompleteMultipart(ctx, key, uploadID, []storage.Part{{Number: 1, Size: 1, ETag: `"0"`}})
	})
	do("AbortMultipart", func(ctx context.Context) error { return s.AbortMultipart(ctx, key, uploadID) })
	do("ListMultipart", func(ctx context.Context) error {
		return s.ListMultipart(ctx, "files/", func(storage.MultipartUpload) error { return nil })
	})
	if c, ok := s.(storage.Copier); ok {
		do("Copy", func(ctx context.Context) error { return c.Copy(ctx, key, NewKey()) })
	}
	return errs
}

// testCopy holds a store that has the Copier ability to it: the copy has
// the source's bytes and type, replaces what was at dst and leaves src; a
// missing source is ErrNotExist and makes nothing.
func testCopy(t *testing.T, _ Harness, s storage.Store) {
	c, ok := s.(storage.Copier)
	if !ok {
		return // an optional ability this store does not have
	}
	ctx := context.Background()
	src, dst := NewKey(), storage.PublicPrefix+"copies/"+NewKey()
	body := randomBytes(100_000)
	Upload(t, s, src, "image/png", body)
	Upload(t, s, dst, "text/plain", []byte("to be replaced"))
	if err := c.Copy(ctx, src, dst); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	for _, key := range []string{src, dst} {
		obj, err := s.Stat(ctx, key)
		if err != nil || obj.Size != int64(len(body)) || obj.ContentType != "image/png" {
			t.Errorf("Stat(%s) after the copy = %+v, %v; want %d bytes of image/png", key, obj, err, len(body))
		}
		r, err := s.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open(%s): %v", key, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s after the copy: %d bytes read (%v), want the source's %d", key, len(got), err, len(body))
		}
	}
	missing, to := NewKey(), NewKey()
	if err := c.Copy(ctx, missing, to); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Copy of a missing object = %v, want ErrNotExist", err)
	}
	assertMissing(t, s, to)
}

// testServerPut: what a job stores (Put) reads back alike through Stat,
// Open and a presigned GET, and a second Put replaces it.
func testServerPut(t *testing.T, h Harness, s storage.Store) {
	ctx := context.Background()
	key := NewKey()
	for i, body := range [][]byte{randomBytes(70_000), randomBytes(3)} {
		if err := s.Put(ctx, key, body, "image/jpeg"); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		obj, err := s.Stat(ctx, key)
		if err != nil || obj.Size != int64(len(body)) || obj.ContentType != "image/jpeg" {
			t.Fatalf("Put %d: Stat = %+v, %v; want %d bytes of image/jpeg", i, obj, err, len(body))
		}
		r, err := s.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		read, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(read, body) {
			t.Fatalf("Put %d: Open read %d bytes (err %v), want the %d put", i, len(read), err, len(body))
		}
		get, err := s.PresignGet(ctx, key, storage.GetOptions{FileName: "thumb.jpg", ContentType: "image/jpeg", TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		res := Send(t, get, nil)
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("Put %d: GET %d with %d bytes, want 200 with the %d put", i, res.StatusCode, len(got), len(body))
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, s, key)
}

func assertMissing(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%s) = %v, want ErrNotExist", key, err)
	}
	r, err := s.Open(context.Background(), key)
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Open(%s) = %v, want ErrNotExist", key, err)
	}
}

func withHeader(hs []storage.Header, name, value string) []storage.Header {
	out := make([]storage.Header, 0, len(hs))
	for _, h := range hs {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return append(out, storage.Header{Name: name, Value: value})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
