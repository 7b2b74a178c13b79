package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// capture is an HTTP client that keeps the request the SDK would send and
// sends nothing.
type capture struct{ req *http.Request }

var errCaptured = errors.New("captured")

func (c *capture) Do(r *http.Request) (*http.Response, error) { c.req = r; return nil, errCaptured }

// TestSignedCallsMatchSDK: Stat's HEAD and Delete's DELETE go to the URL
// and Host the SDK's HeadObject and DeleteObject go to, and carry the
// Authorization the SDK's v4 signer writes for them, byte for byte: awkward
// keys, path and virtual-hosted style, a session's token, a port the
// scheme implies, the next day's key.
func TestSignedCallsMatchSDK(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 12, 34, 56, 789, time.UTC)
	session := credentials.NewStaticCredentialsProvider("ASIAEXAMPLE", "secret/with+signs", "token/with+signs=")
	for _, cfg := range []Config{
		{Bucket: "fg-bucket", Region: "eu-west-3", Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()},
		{Bucket: "fg-bucket", Region: "eu-west-3", Credentials: s3srv.Credentials()}, // AWS itself: virtual-hosted
		{Bucket: "fg.bucket", Region: "us-east-1", Endpoint: "https://s3.example.com:443", ForcePathStyle: true, Credentials: session},
	} {
		s, err := newStore(ctx, cfg, func() time.Time { return at })
		if err != nil {
			t.Fatal(err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"files/0123456789abcdef.txt", "files/a b+c%d?e#f~g!h*i'j(k)l.txt", "a//b/é/ü", "x"} {
			for _, method := range []string{http.MethodHead, http.MethodDelete} {
				what := fmt.Sprintf("%s %s %q", method, cfg.Endpoint, key)
				sdk := &capture{}
				noRetry := func(o *s3.Options) { o.HTTPClient = sdk; o.Retryer = aws.NopRetryer{} }
				if method == http.MethodHead {
					_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}, noRetry)
				} else {
					_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key)}, noRetry)
				}
				if !errors.Is(err, errCaptured) || sdk.req == nil {
					t.Fatalf("%s: SDK call: %v", what, err)
				}
				for _, day := range []time.Time{at, at.Add(24 * time.Hour)} {
					got := s.calls.request(ctx, creds, day, method, key, method == http.MethodHead)
					if got.Method != sdk.req.Method || got.URL.Scheme != sdk.req.URL.Scheme || got.URL.Host != sdk.req.URL.Host ||
						got.URL.EscapedPath() != sdk.req.URL.EscapedPath() || sentHost(got) != sentHost(sdk.req) {
						t.Errorf("%s: sends %s %s://%s%s Host %q; the SDK %s %s://%s%s Host %q", what,
							got.Method, got.URL.Scheme, got.URL.Host, got.URL.EscapedPath(), sentHost(got),
							sdk.req.Method, sdk.req.URL.Scheme, sdk.req.URL.Host, sdk.req.URL.EscapedPath(), sentHost(sdk.req))
					}
					for _, h := range []string{"X-Amz-Content-Sha256", "X-Amz-Checksum-Mode", "X-Amz-Security-Token"} {
						if g, w := got.Header.Get(h), sdk.req.Header.Get(h); g != w {
							t.Errorf("%s: %s %q, the SDK sends %q", what, h, g, w)
						}
					}
					// The SDK's signer on the same request.
					want := got.Clone(ctx)
					want.Header.Del("Authorization")
					want.Header.Del("X-Amz-Date")
					want.Header.Del("X-Amz-Security-Token")
					signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
					if err := signer.SignHTTP(ctx, creds, want, emptySHA256, s.fast.service, s.fast.region, day); err != nil {
						t.Fatal(err)
					}
					for h := range want.Header {
						if g, w := got.Header.Values(h), want.Header.Values(h); strings.Join(g, ",") != strings.Join(w, ",") {
							t.Errorf("%s on %s: %s\n%q, the SDK's signer\n%q", what, day.Format(time.DateOnly), h, g, w)
						}
					}
					if len(got.Header) != len(want.Header) {
						t.Errorf("%s: headers %v, the SDK's signer %v", what, got.Header, want.Header)
					}
				}
			}
		}
	}
}

// sentHost is the Host header r goes with.
func sentHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// TestStatDeleteCalls, against versitygw: keys that need escaping, a
// session's token (signed and sent), a secret the store does not know
// (the store's refusal, named), a missing key, a canceled call.
func TestStatDeleteCalls(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, key := range []string{"files/a b+c%d?e#f~g!h*i'j(k)l.txt", "files/a//b/é/ü", "files/x=y&z;,$@:"} {
		body := []byte("hello " + key)
		if err := s.Put(ctx, key, body, "text/plain; charset=utf-8"); err != nil {
			t.Fatalf("Put %q: %v", key, err)
		}
		obj, err := s.Stat(ctx, key)
		if err != nil || obj.Size != int64(len(body)) || obj.ContentType != "text/plain; charset=utf-8" || obj.ChecksumSHA256 == "" {
			t.Errorf("Stat %q = %+v, %v; want %d bytes of text/plain; charset=utf-8 with its checksum", key, obj, err, len(body))
		}
		sdk, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || obj.ChecksumSHA256 != aws.ToString(sdk.ChecksumSHA256) || obj.Size != aws.ToInt64(sdk.ContentLength) || obj.ContentType != aws.ToString(sdk.ContentType) {
			t.Errorf("Stat %q = %+v; the SDK's HeadObject %v: %+v", key, obj, err, sdk)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete %q: %v", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat %q after Delete: %v, want ErrNotExist", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete %q again: %v, want nil", key, err)
		}
	}

	// A session token is signed and sent: one signed but not sent, or
	// sent but not signed, fails the signature.
	key := storagetest.NewKey()
	storagetest.Upload(t, s, key, "text/plain", []byte("abc"))
	tokenCfg := Config{Bucket: s.bucket, Region: s3srv.Region, Endpoint: s3srv.Endpoint, ForcePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3srv.AccessKey, s3srv.SecretKey, "token/with+signs=")}
	withToken, err := newStore(ctx, tokenCfg, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, sdkErr := withToken.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	obj, err := withToken.Stat(ctx, key)
	if (err == nil) != (sdkErr == nil) || err == nil && obj.Size != 3 {
		t.Errorf("Stat with a session token = %+v, %v; the SDK's HeadObject: %v", obj, err, sdkErr)
	}
	t.Logf("with a session token: Stat %v, SDK %v", err, sdkErr)

	// A secret the store does not know: refused, named, not retried into
	// an outage.
	wrong := tokenCfg
	wrong.Credentials = credentials.NewStaticCredentialsProvider(s3srv.AccessKey, "not-"+s3srv.SecretKey, "")
	refused, err := newStore(ctx, wrong, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for op, err := range map[string]error{
		"Stat":   func() error { _, err := refused.Stat(ctx, key); return err }(),
		"Delete": refused.Delete(ctx, key),
	} {
		if !errors.Is(err, storage.ErrMisconfigured) || errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("%s with a wrong secret: %v, want ErrMisconfigured with HTTP 403", op, err)
		}
	}
	if _, err := s.Stat(ctx, key); err != nil {
		t.Errorf("the object after the refused Delete: %v", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Stat(canceled, key); !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a canceled context: %v, want ErrUnavailable and context.Canceled", err)
	}
	if err := s.Delete(canceled, key); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Delete with a canceled context: %v, want ErrUnavailable", err)
	}
	if _, err := s.Stat(ctx, key); err != nil {
		t.Errorf("the object after the canceled Delete: %v", err)
	}
}

// TestCallsClassifyAsSDK: answers versitygw does not give on demand (5xx,
// throttling, redirects, a dropped connection, an answer after a retry)
// from a scripted server, each met by Stat and Delete and by the SDK's
// HeadObject and DeleteObject through the same retryer (backoff zeroed):
// the same class, the same number of attempts, the same object.
func TestCallsClassifyAsSDK(t *testing.T) {
	ctx := context.Background()
	type reply struct {
		status int
		header map[string]string
		body   string
		drop   bool // close the connection without an answer
	}
	ok := reply{status: 200, header: map[string]string{"Content-Length": "1234", "Content-Type": "image/png", "X-Amz-Checksum-Sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}}
	xmlErr := func(status int, code string) reply {
		return reply{status: status, header: map[string]string{"Content-Type": "application/xml"},
			body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>said ` + code + `</Message><RequestId>r</RequestId></Error>`}
	}
	cases := map[string][]reply{
		"ok":                {ok},
		"missing":           {{status: 404}},
		"no such bucket":    {xmlErr(404, "NoSuchBucket")},
		"forbidden":         {xmlErr(403, "SignatureDoesNotMatch")},
		"forbidden no body": {{status: 403}},
		"bad request":       {xmlErr(400, "InvalidBucketName")},
		"moved":             {{status: 301}},
		"slow down":         {xmlErr(503, "SlowDown")},
		"internal":          {{status: 500}},
		"too many":          {{status: 429}},
		"timeout code":      {xmlErr(400, "RequestTimeout")},
		"500 then ok":       {{status: 500}, ok},
		"retry after":       {{status: 503, header: map[string]string{"X-Amz-Retry-After": "1"}}, ok},
		"dropped":           {{drop: true}},
		"dropped then ok":   {{drop: true}, ok},
	}
	for name, script := range cases {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				rep := script[min(i, len(script)-1)]
				if rep.drop {
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close()
					return
				}
				for k, v := range rep.header {
					w.Header()[k] = []string{v}
				}
				if rep.status == 200 && r.Method == http.MethodDelete {
					w.WriteHeader(204)
					return
				}
				w.WriteHeader(rep.status)
				w.Write([]byte(rep.body))
			}))
			defer srv.Close()
			s, err := newStore(ctx, Config{Bucket: "fg-bucket", Region: "us-east-1", Endpoint: srv.URL, ForcePathStyle: true, Credentials: s3srv.Credentials()}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.calls.retryer.MaxAttempts(); got != 3 {
				t.Errorf("the calls' retryer makes %d attempts, want the client's 3", got)
			}
			r := retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
			s.calls.retryer = r
			sdkOpts := func(o *s3.Options) { o.Retryer = r }
			kind := func(err error) string {
				for _, k := range []error{storage.ErrNotExist, storage.ErrUnavailable, storage.ErrMisconfigured} {
					if errors.Is(err, k) {
						return k.Error()
					}
				}
				if err != nil {
					return "unclassified: " + err.Error()
				}
				return "ok"
			}
			type result struct {
				kind     string
				attempts int32
				obj      storage.Object
			}
			run := func(f func() (storage.Object, error)) (result, error) {
				n.Store(0)
				obj, err := f()
				return result{kind(err), n.Load(), obj}, err
			}
			key := "files/a b.png"
			sdkStat, sdkErr := run(func() (storage.Object, error) {
				out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("fg-bucket"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}, sdkOpts)
				if err != nil {
					return storage.Object{}, classify("stat", err)
				}
				return storage.Object{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), ChecksumSHA256: aws.ToString(out.ChecksumSHA256)}, nil
			})
			stat, err := run(func() (storage.Object, error) { return s.Stat(ctx, key) })
			if stat != sdkStat {
				t.Errorf("Stat: %+v (%v)\nthe SDK's HeadObject: %+v (%v)", stat, err, sdkStat, sdkErr)
			}
			sdkDel, sdkErr := run(func() (storage.Object, error) {
				_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("fg-bucket"), Key: aws.String(key)}, sdkOpts)
				if err != nil {
					if err = classify("delete", err); errors.Is(err, storage.ErrNotExist) {
						err = nil
					}
				}
				return storage.Object{}, err
			})
			del, err := run(func() (storage.Object, error) { return storage.Object{}, s.Delete(ctx, key) })
			if del != sdkDel {
				t.Errorf("Delete: %+v (%v)\nthe SDK's DeleteObject: %+v (%v)", del, err, sdkDel, sdkErr)
			}
			// The store's code and message are in the error, as before.
			if rep := script[len(script)-1]; rep.status >= 300 && rep.status != 404 && err != nil {
				want := "HTTP " + strconv.Itoa(rep.status)
				if !strings.Contains(err.Error(), want) || strings.Contains(rep.body, "<Code>") && !strings.Contains(err.Error(), "said ") {
					t.Errorf("Delete: %v, want %s with the store's code and message", err, want)
				}
			}
			t.Logf("Stat %+v: %v; Delete %+v: %v", stat, stat.kind, del, err)
		})
	}
}

func BenchmarkDelete(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Delete(ctx, "files/bench-missing.bin"); err != nil {
			b.Fatal(err)
		}
	}
}
