package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegraph/filegraph/internal/storage"
)

// The fast path signs exactly what the SDK's presigner signs: same URL,
// same headers, for awkward keys, names and types too. The headers a
// client must send and the download's Content-Disposition are written out
// here, not computed by the code under test. (The conformance suite proves
// the URLs work against a signature-checking S3.)
func TestPresignMatchesSDK(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 12, 34, 56, 789, time.UTC)
	const sum = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	// A session's credentials (their token goes in the query) and a port
	// the scheme implies (signed without it) too.
	session := credentials.NewStaticCredentialsProvider("ASIAEXAMPLE", "secret/with+signs", "token/with+signs=")
	for _, cfg := range []Config{
		{Bucket: "fg-bucket", Region: "eu-west-3", Endpoint: s3srv.Endpoint, ForcePathStyle: true, Credentials: s3srv.Credentials()},
		{Bucket: "fg-bucket", Region: "eu-west-3", Credentials: s3srv.Credentials()}, // AWS itself: virtual-hosted URLs
		{Bucket: "fg.bucket", Region: "us-east-1", Endpoint: "https://s3.example.com:443", ForcePathStyle: true, Credentials: session},
	} {
		clock := at
		s, err := newStore(ctx, cfg, func() time.Time { return clock })
		if err != nil {
			t.Fatal(err)
		}
		// The signing key is the day's: the next day's URLs are signed
		// with the next day's.
		defer func() {
			clock = at.Add(24 * time.Hour)
			opts := storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: time.Hour}
			got, err := s.PresignGet(ctx, "files/a.txt", opts)
			if err != nil {
				t.Fatal(err)
			}
			sdk := sdkPresignGet(t, s, "files/a.txt", opts, storage.ContentDisposition("a.txt"))
			checkPresigned(t, "GET the next day", got, sdk, clock.Truncate(time.Second).Add(opts.TTL), []storage.Header{})
		}()
		for _, key := range []string{"files/0123456789abcdef.txt", "files/a b+c%d?e#f~g!h*i'j(k)l.txt", "a//b/é/ü", "x"} {
			for _, c := range []struct {
				opts storage.PutOptions
				want []storage.Header
			}{
				{storage.PutOptions{Size: 5, ContentType: "text/plain", TTL: 15 * time.Minute},
					[]storage.Header{{Name: "Content-Length", Value: "5"}, {Name: "Content-Type", Value: "text/plain"}, {Name: "If-None-Match", Value: "*"}}},
				{storage.PutOptions{Size: 1 << 30, ContentType: "text/plain; charset=utf-8", ChecksumSHA256: sum, TTL: 90 * time.Second},
					[]storage.Header{{Name: "Content-Length", Value: "1073741824"}, {Name: "Content-Type", Value: "text/plain; charset=utf-8"}, {Name: "If-None-Match", Value: "*"}, {Name: "X-Amz-Checksum-Sha256", Value: sum}}},
			} {
				got, err := s.PresignPut(ctx, key, c.opts)
				if err != nil {
					t.Fatal(err)
				}
				sdk := sdkPresignPut(t, s, key, c.opts)
				checkPresigned(t, fmt.Sprintf("PUT %q %+v", key, c.opts), got, sdk, at.Truncate(time.Second).Add(c.opts.TTL), c.want)
			}
			for _, c := range []struct {
				opts storage.PartOptions
				want []storage.Header
			}{
				{storage.PartOptions{Number: 1, Size: 5 << 20, TTL: 15 * time.Minute},
					[]storage.Header{{Name: "Content-Length", Value: "5242880"}}},
				{storage.PartOptions{Number: 10000, Size: 5 << 30, ChecksumSHA256: sum, TTL: 90 * time.Second},
					[]storage.Header{{Name: "Content-Length", Value: "5368709120"}, {Name: "X-Amz-Checksum-Sha256", Value: sum}}},
			} {
				const uploadID = "2~a+b/c=d e"
				got, err := s.PresignPart(ctx, key, uploadID, c.opts)
				if err != nil {
					t.Fatal(err)
				}
				sdk := sdkPresignPart(t, s, key, uploadID, c.opts)
				checkPresigned(t, fmt.Sprintf("part %q %+v", key, c.opts), got, sdk, at.Truncate(time.Second).Add(c.opts.TTL), c.want)
			}
			for _, c := range []struct {
				opts        storage.GetOptions
				disposition string
			}{
				{storage.GetOptions{FileName: "report.pdf", ContentType: "application/pdf", TTL: time.Hour},
					`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
				{storage.GetOptions{FileName: `Résumé "final" (2).txt`, ContentType: "", TTL: time.Minute},
					`attachment; filename="R_sum_ _final_ (2).txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%20%282%29.txt`},
			} {
				got, err := s.PresignGet(ctx, key, c.opts)
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("GET %q %+v", key, c.opts)
				sdk := sdkPresignGet(t, s, key, c.opts, c.disposition)
				checkPresigned(t, what, got, sdk, at.Truncate(time.Second).Add(c.opts.TTL), []storage.Header{})
				u, err := url.Parse(got.URL)
				if err != nil {
					t.Fatal(err)
				}
				if d := u.Query().Get("response-content-disposition"); d != c.disposition {
					t.Errorf("%s: Content-Disposition %q, want %q", what, d, c.disposition)
				}
			}
		}
	}
}

// checkPresigned holds a fast-path request to the SDK's: the same method
// and URL, the expiry wanted, and the headers wanted both as the store
// returns them (sorted, no Host) and as the SDK signed them.
func checkPresigned(t *testing.T, what string, got storage.Request, sdk *v4.PresignedHTTPRequest, expires time.Time, want []storage.Header) {
	t.Helper()
	if got.Method != sdk.Method || got.URL != sdk.URL {
		t.Errorf("%s:\n fast %s %s\n sdk  %s %s", what, got.Method, got.URL, sdk.Method, sdk.URL)
	}
	if !got.ExpiresAt.Equal(expires) {
		t.Errorf("%s: expires %v, want %v", what, got.ExpiresAt, expires)
	}
	if !slices.Equal(got.Header, want) {
		t.Errorf("%s: headers %+v, want %+v", what, got.Header, want)
	}
	signed := http.Header{}
	for _, h := range want {
		signed.Add(h.Name, h.Value)
	}
	sdkSigned := sdk.SignedHeader.Clone()
	if sdkSigned.Get("Host") == "" {
		t.Errorf("%s: the SDK signed no Host header: %v", what, sdk.SignedHeader)
	}
	sdkSigned.Del("Host")
	if !reflect.DeepEqual(sdkSigned, signed) {
		t.Errorf("%s: the SDK signed headers %v, want %v and Host", what, sdk.SignedHeader, signed)
	}
}

func sdkPresignPut(t *testing.T, s *Store, key string, opts storage.PutOptions) *v4.PresignedHTTPRequest {
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
	return req
}

func sdkPresignPart(t *testing.T, s *Store, key, uploadID string, opts storage.PartOptions) *v4.PresignedHTTPRequest {
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
	return req
}

func sdkPresignGet(t *testing.T, s *Store, key string, opts storage.GetOptions, disposition string) *v4.PresignedHTTPRequest {
	req, err := s.presign.PresignGetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ResponseContentDisposition: aws.String(disposition),
		ResponseContentType:        aws.String(opts.ContentType),
	}, s3.WithPresignExpires(opts.TTL))
	if err != nil {
		t.Fatal(err)
	}
	return req
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
