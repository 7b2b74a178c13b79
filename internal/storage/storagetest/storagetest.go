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

// Run runs the suite against s. Objects it makes use keys under "files/".
func Run(t *testing.T, s storage.Store) {
	t.Run("PutStatGet", func(t *testing.T) { testPutStatGet(t, s) })
	t.Run("Checksum", func(t *testing.T) { testChecksum(t, s) })
	t.Run("Refusals", func(t *testing.T) { testRefusals(t, s) })
	t.Run("WriteOnce", func(t *testing.T) { testWriteOnce(t, s) })
	t.Run("Expired", func(t *testing.T) { testExpired(t, s) })
	t.Run("StatDeleteMissing", func(t *testing.T) { testMissing(t, s) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, s) })
	if l, ok := s.(storage.Lister); ok {
		t.Run("List", func(t *testing.T) { testList(t, s, l) })
	}
	t.Run("Ping", func(t *testing.T) {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// NewKey returns a fresh key of the shape the server makes.
func NewKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "files/" + hex.EncodeToString(b) + ".bin"
}

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
	res, err := http.DefaultClient.Do(r)
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

func testPutStatGet(t *testing.T, s storage.Store) {
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

func testChecksum(t *testing.T, s storage.Store) {
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
	if obj.ChecksumSHA256 != "" && obj.ChecksumSHA256 != checksum {
		t.Errorf("Stat checksum = %q, want %q", obj.ChecksumSHA256, checksum)
	}

	other := randomBytes(1000)
	key = NewKey()
	if code := put(key, checksum, other); code < 400 {
		t.Errorf("PUT of another body of the same length: status %d, want refusal", code)
	}
	assertMissing(t, s, key)
}

func testRefusals(t *testing.T, s storage.Store) {
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
		{"AlteredSignature", func(key string) *http.Response {
			req := presign(key)
			req.URL = alterSignature(t, req.URL)
			return Send(t, req, body)
		}},
		{"OtherKey", func(key string) *http.Response {
			req := presign(NewKey())
			u, _ := url.Parse(req.URL)
			u.Path = u.Path[:strings.LastIndex(u.Path, "files/")] + key
			req.URL = u.String()
			return Send(t, req, body)
		}},
		{"Unsigned", func(key string) *http.Response {
			req := presign(key)
			u, _ := url.Parse(req.URL)
			u.RawQuery = ""
			req.URL = u.String()
			return Send(t, req, body)
		}},
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
func testWriteOnce(t *testing.T, s storage.Store) {
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

func testExpired(t *testing.T, s storage.Store) {
	ctx := context.Background()
	key, body := NewKey(), randomBytes(10)
	put, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 10, ContentType: "text/plain", TTL: time.Second})
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	Upload(t, s, NewKey(), "text/plain", body) // the store works
	other := NewKey()
	Upload(t, s, other, "text/plain", body)
	get, err := s.PresignGet(ctx, other, storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: time.Second})
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	res := Send(t, put, body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("expired PUT: status %d, want 403", res.StatusCode)
	}
	assertMissing(t, s, key)
	res = Send(t, get, nil)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("expired GET: status %d, want 403", res.StatusCode)
	}
}

func testMissing(t *testing.T, s storage.Store) {
	key := NewKey()
	assertMissing(t, s, key)
	if err := s.Delete(context.Background(), key); err != nil {
		t.Errorf("Delete of a missing object: %v, want nil", err)
	}
}

func testDelete(t *testing.T, s storage.Store) {
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
func testList(t *testing.T, s storage.Store, l storage.Lister) {
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
	if err := l.List(ctx, prefix, func(key string) error { got[key] = true; return nil }); err != nil {
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
	if err := l.List(ctx, prefix, func(string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("List did not stop at fn's error: %v after %d keys", err, n)
	}
}

func assertMissing(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%s) = %v, want ErrNotExist", key, err)
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

// alterSignature flips one hex digit of whichever query parameter carries
// the signature.
func alterSignature(t testing.TB, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for _, name := range []string{"X-Amz-Signature", "X-Signature"} {
		if sig := q.Get(name); sig != "" {
			flipped := []byte(sig)
			if flipped[0] == '0' {
				flipped[0] = '1'
			} else {
				flipped[0] = '0'
			}
			q.Set(name, string(flipped))
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	t.Fatalf("no signature parameter in %s", raw)
	return ""
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
