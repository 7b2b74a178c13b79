package s3store

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegraph/filegraph/internal/storage"
)

// The fast path signs exactly what the SDK's presigner signs: same URL,
// same headers, for awkward keys, names and types too. (The conformance
// suite proves the URLs work against a signature-checking S3.)
func TestPresignMatchesSDK(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 12, 34, 56, 789, time.UTC)
	for _, pathStyle := range []bool{true, false} {
		cfg := Config{Bucket: "fg-bucket", Region: "eu-west-3", Endpoint: s3srv.Endpoint, ForcePathStyle: pathStyle, Credentials: s3srv.Credentials()}
		if !pathStyle {
			cfg.Endpoint = "" // AWS itself: virtual-hosted URLs
		}
		s, err := newStore(ctx, cfg, func() time.Time { return at })
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"files/0123456789abcdef.txt", "files/a b+c%d?e#f~g!h*i'j(k)l.txt", "a//b/é/ü", "x"} {
			for _, opts := range []storage.PutOptions{
				{Size: 5, ContentType: "text/plain", TTL: 15 * time.Minute},
				{Size: 1 << 30, ContentType: "text/plain; charset=utf-8", ChecksumSHA256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", TTL: 90 * time.Second},
			} {
				got, err := s.PresignPut(ctx, key, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := sdkPresignPut(t, s, key, opts, at)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("PUT %q %+v:\n fast %+v\n sdk  %+v", key, opts, got, want)
				}
			}
			for _, opts := range []storage.PartOptions{
				{Number: 1, Size: 5 << 20, TTL: 15 * time.Minute},
				{Number: 10000, Size: 5 << 30, ChecksumSHA256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", TTL: 90 * time.Second},
			} {
				const uploadID = "2~a+b/c=d e"
				got, err := s.PresignPart(ctx, key, uploadID, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := sdkPresignPart(t, s, key, uploadID, opts, at)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("part %q %+v:\n fast %+v\n sdk  %+v", key, opts, got, want)
				}
			}
			for _, opts := range []storage.GetOptions{
				{FileName: "report.pdf", ContentType: "application/pdf", TTL: time.Hour},
				{FileName: `Résumé "final" (2).txt`, ContentType: "", TTL: time.Minute},
			} {
				got, err := s.PresignGet(ctx, key, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := sdkPresignGet(t, s, key, opts, at)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("GET %q %+v:\n fast %+v\n sdk  %+v", key, opts, got, want)
				}
			}
		}
	}
}

func sdkPresignPut(t *testing.T, s *Store, key string, opts storage.PutOptions, at time.Time) storage.Request {
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ContentLength: aws.Int64(opts.Size), ContentType: aws.String(opts.ContentType), IfNoneMatch: aws.String("*"),
	}
	if opts.ChecksumSHA256 != "" {
		in.ChecksumSHA256 = aws.String(opts.ChecksumSHA256)
	}
	req, err := s.presign.PresignPutObject(context.Background(), in, s3.WithPresignExpires(opts.TTL))
	if err != nil {
		t.Fatal(err)
	}
	return storage.Request{Method: req.Method, URL: req.URL, Header: headers(req.SignedHeader), ExpiresAt: at.Truncate(time.Second).Add(opts.TTL)}
}

func sdkPresignPart(t *testing.T, s *Store, key, uploadID string, opts storage.PartOptions, at time.Time) storage.Request {
	in := &s3.UploadPartInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(int32(opts.Number)), ContentLength: aws.Int64(opts.Size),
	}
	if opts.ChecksumSHA256 != "" {
		in.ChecksumSHA256 = aws.String(opts.ChecksumSHA256)
	}
	req, err := s.presign.PresignUploadPart(context.Background(), in, s3.WithPresignExpires(opts.TTL))
	if err != nil {
		t.Fatal(err)
	}
	return storage.Request{Method: req.Method, URL: req.URL, Header: headers(req.SignedHeader), ExpiresAt: at.Truncate(time.Second).Add(opts.TTL)}
}

func sdkPresignGet(t *testing.T, s *Store, key string, opts storage.GetOptions, at time.Time) storage.Request {
	req, err := s.presign.PresignGetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ResponseContentDisposition: aws.String(storage.ContentDisposition(opts.FileName)),
		ResponseContentType:        aws.String(opts.ContentType),
	}, s3.WithPresignExpires(opts.TTL))
	if err != nil {
		t.Fatal(err)
	}
	return storage.Request{Method: req.Method, URL: req.URL, Header: headers(req.SignedHeader), ExpiresAt: at.Truncate(time.Second).Add(opts.TTL)}
}

// BenchmarkPresign: the fast path against the SDK's presign client.
func BenchmarkPresign(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b)
	put := storage.PutOptions{Size: 2 << 20, ContentType: "image/jpeg", TTL: 15 * time.Minute}
	get := storage.GetOptions{FileName: "photo.jpg", ContentType: "image/jpeg", TTL: 15 * time.Minute}
	key := "files/0123456789abcdef0123456789abcdef.jpg"
	b.Run("put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.PresignPut(ctx, key, put); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The SDK's v4 signer alone on the PUT's request, built once: what the
	// fast path costs beyond it is ours.
	b.Run("v4-signer-put", func(b *testing.B) {
		p := s.fast
		creds, err := p.creds.Retrieve(ctx)
		if err != nil {
			b.Fatal(err)
		}
		req := &http.Request{
			Method: http.MethodPut,
			URL:    &url.URL{Scheme: p.scheme, Host: p.host, Path: p.path + "/" + key, RawQuery: "X-Amz-Expires=900&" + putQuery},
			Host:   p.host,
			Header: http.Header{"Content-Type": {put.ContentType}, "If-None-Match": {"*"}},

			ContentLength: put.Size,
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", p.service, p.region, p.now(), noHoisting...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.PresignGet(ctx, key, get); err != nil {
				b.Fatal(err)
			}
		}
	})
	part := storage.PartOptions{Number: 7, Size: 16 << 20, TTL: 15 * time.Minute}
	const uploadID = "0193a6f4-0000-7000-8000-000000000009"
	b.Run("part", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.PresignPart(ctx, key, uploadID, part); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk-part", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := &s3.UploadPartInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID), PartNumber: aws.Int32(int32(part.Number)), ContentLength: aws.Int64(part.Size)}
			if _, err := s.presign.PresignUploadPart(ctx, in, s3.WithPresignExpires(part.TTL)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk-put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), ContentLength: aws.Int64(put.Size), ContentType: aws.String(put.ContentType), IfNoneMatch: aws.String("*")}
			if _, err := s.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(put.TTL)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sdk-get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), ResponseContentDisposition: aws.String(storage.ContentDisposition(get.FileName)), ResponseContentType: aws.String(get.ContentType)}
			if _, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(get.TTL)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
