package s3store

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

var s3srv *testenv.S3

func TestMain(m *testing.M) { testenv.RunWithS3(m, &s3srv) }

func newTestStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, Config{Bucket: bucket, Region: s3srv.Region, Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Harness { return &harness{t: t} })
}

// harness makes stores on fresh versitygw buckets.
type harness struct {
	storagetest.QuerySigned
	t        *testing.T
	pageSize int32 // of list calls, when set
}

func (h *harness) config(bucket string) Config {
	return Config{Bucket: bucket, Region: s3srv.Region, Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()}
}

func (h *harness) MakeStore(ctx context.Context) (storage.Store, error) {
	h.QuerySigned.Param = "X-Amz-Signature"
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, h.config(bucket))
	if err != nil {
		return nil, err
	}
	s.pageSize = h.pageSize
	return s, nil
}

func (h *harness) MakeSkewedStore(ctx context.Context, s storage.Store, d time.Duration) (storage.Store, error) {
	return newStore(ctx, h.config(s.Bucket()), func() time.Time { return time.Now().Add(-d) })
}

// MakeRefusingStore signs with a secret the store does not know.
func (h *harness) MakeRefusingStore(ctx context.Context) (storage.Store, error) {
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		return nil, err
	}
	cfg := h.config(bucket)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(s3srv.AccessKey, "not-"+s3srv.SecretKey, "")
	return newStore(ctx, cfg, time.Now)
}

// MakeDownStore reaches the store through a proxy that refuses every
// connection.
func (h *harness) MakeDownStore(ctx context.Context) (storage.Store, error) {
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s3srv.Endpoint)
	if err != nil {
		return nil, err
	}
	p, err := testenv.NewProxy(u.Host)
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(p.Close)
	p.SetDown(true)
	cfg := h.config(bucket)
	cfg.Endpoint = "http://" + p.Addr
	return newStore(ctx, cfg, time.Now)
}

// TestNewSaysWhatIsWrong: a store that refuses the server stops it at start
// with the store's answer and what to check, and is not called an outage.
func TestNewSaysWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t}
	wrongSecret := h.config(bucket)
	wrongSecret.Credentials = credentials.NewStaticCredentialsProvider(s3srv.AccessKey, "not-"+s3srv.SecretKey, "")
	for name, tt := range map[string]struct {
		cfg  Config
		want []string
	}{
		"MissingBucket": {h.config("no-such-bucket"), []string{`"no-such-bucket"`, "no such bucket", "S3_BUCKET", "HTTP 404"}},
		"ShortName":     {h.config("ab"), []string{`"ab"`, "valid bucket name", "HTTP 400"}},
		"WrongSecret":   {wrongSecret, []string{"access denied", "credentials", "HTTP 403"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(ctx, tt.cfg)
			t.Log(err)
			if !errors.Is(err, storage.ErrMisconfigured) || errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("New: %v, want ErrMisconfigured only", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v\nsays nothing of %q", err, w)
				}
			}
		})
	}
}

// TestSetCORS: the bucket holds the rule afterwards, and a browser's
// preflight for an upload from the origin is allowed, another origin's not.
func TestSetCORS(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if err := s.SetCORS(ctx, []string{"https://app.example"}); err != nil {
		t.Fatal(err)
	}
	out, err := s3srv.Client().GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(s.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	// Written out, not taken from CORSRule: what a browser's upload needs.
	if len(out.CORSRules) != 1 {
		t.Fatalf("bucket CORS rules = %+v, want one", out.CORSRules)
	}
	rule := out.CORSRules[0]
	if !slices.Equal(rule.AllowedOrigins, []string{"https://app.example"}) ||
		!slices.Equal(rule.AllowedMethods, []string{"PUT", "GET", "HEAD"}) ||
		!slices.EqualFunc(rule.AllowedHeaders, []string{"Content-Type", "If-None-Match", "x-amz-checksum-sha256"}, strings.EqualFold) ||
		!slices.Equal(rule.ExposeHeaders, []string{"ETag"}) || aws.ToInt32(rule.MaxAgeSeconds) != 3600 {
		t.Fatalf("bucket CORS rule = %+v", rule)
	}
	put, err := s.PresignPut(ctx, storagetest.NewKey(), storage.PutOptions{Size: 1, ContentType: "text/plain", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for origin, allowed := range map[string]bool{"https://app.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, put.URL, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-type,if-none-match,x-amz-checksum-sha256")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("preflight from %s: status %d, Access-Control-Allow-Origin %q; allowed %v, want %v", origin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), got, allowed)
		}
	}
}

func BenchmarkPresignPut(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	opts := storage.PutOptions{Size: 1 << 20, ContentType: "image/jpeg", TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignPut(ctx, "files/0123456789abcdef0123456789abcdef.jpg", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresignGet(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	opts := storage.GetOptions{FileName: "Résumé final.pdf", ContentType: "application/pdf", TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignGet(ctx, "files/0123456789abcdef0123456789abcdef.pdf", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStat(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	storagetest.Upload(b, s, "files/bench.bin", "application/octet-stream", make([]byte, 1024))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Stat(ctx, "files/bench.bin"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMultipartConformance(t *testing.T) {
	storagetest.RunMultipart(t, func(t *testing.T) storagetest.Harness {
		return &harness{t: t, pageSize: 1} // listings take several pages
	})
}
