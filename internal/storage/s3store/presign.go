package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/filegraph/filegraph/internal/storage"
)

// presigner signs object PUTs and GETs with the SDK's v4 signer on
// requests the store builds itself. The SDK's presign client runs its
// whole operation stack (endpoint rules, checksum and retry middleware) for
// every URL, some 75 µs and 370 allocations, where the signing is a tenth
// of that. What the stack decides for the bucket, the URL every object's
// is built on, does not change, so it is asked for once, from the SDK's own
// presigner, when the store is made; a test holds the two to the same URLs.
type presigner struct {
	signer  *v4.Signer
	creds   aws.CredentialsProvider
	region  string // signing region and service, as the SDK's presigner signs
	service string
	scheme  string
	host    string
	path    string // the bucket's path prefix: "/bucket" (path style) or ""
	rawPath string // the same, escaped
	now     func() time.Time
	gets    *getSigner // GETs, signed without the SDK's signer
}

// probeKey is the object key whose presigned URL shows the bucket's base.
const probeKey = "k"

func newPresigner(ctx context.Context, sdk *s3.PresignClient, bucket string, creds aws.CredentialsProvider, now func() time.Time) (*presigner, error) {
	probe, err := sdk.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(probeKey)})
	if err != nil {
		return nil, fmt.Errorf("s3store: resolving the bucket's URL: %w", err)
	}
	u, err := url.Parse(probe.URL)
	if err != nil {
		return nil, fmt.Errorf("s3store: resolving the bucket's URL: %w", err)
	}
	path, ok := strings.CutSuffix(u.Path, "/"+probeKey)
	rawPath, rawOK := strings.CutSuffix(u.EscapedPath(), "/"+probeKey)
	// X-Amz-Credential is key/date/region/service/aws4_request.
	scope := strings.Split(u.Query().Get("X-Amz-Credential"), "/")
	if !ok || !rawOK || len(scope) != 5 {
		return nil, fmt.Errorf("s3store: unexpected presigned URL %s", u.Redacted())
	}
	p := &presigner{
		// As the SDK's presigner: S3 paths are escaped once.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		creds:  creds, region: scope[2], service: scope[3],
		scheme: u.Scheme, host: u.Host, path: path, rawPath: rawPath,
		now: now,
	}
	p.gets = newGetSigner(p)
	return p, nil
}

// sign presigns method on key for ttl. query holds the request's own
// parameters (at least x-id), already encoded (the signer puts them in
// canonical order); header, the headers to sign; length, the
// Content-Length to sign, if any.
func (p *presigner) sign(ctx context.Context, method, key, query string, header http.Header, length int64, ttl time.Duration) (storage.Request, error) {
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		return storage.Request{}, fmt.Errorf("s3store: credentials: %w", err)
	}
	now := p.now().UTC()
	u := &url.URL{
		Scheme:   p.scheme,
		Host:     p.host,
		Path:     p.path + "/" + key,
		RawQuery: "X-Amz-Expires=" + strconv.FormatInt(int64(ttl/time.Second), 10) + "&" + query,
	}
	if p.rawPath != p.path || !plainPath(key) {
		u.RawPath = p.rawPath + "/" + httpbinding.EscapePath(key, false)
	}
	req := &http.Request{Method: method, URL: u, Host: p.host, Header: header, ContentLength: length}
	var opts []func(*v4.SignerOptions)
	if !hasAmzHeader(header) {
		// Hoisting moves only x-amz-* headers into the query; with none
		// the result is the same, without the work.
		opts = noHoisting
	}
	signed, signedHeader, err := p.signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", p.service, p.region, now, opts...)
	if err != nil {
		return storage.Request{}, err
	}
	out := storage.Request{Method: method, URL: signed, ExpiresAt: now.Truncate(time.Second).Add(ttl)}
	out.Header = make([]storage.Header, 0, len(signedHeader))
	for name, values := range signedHeader {
		if strings.EqualFold(name, "Host") {
			continue // every HTTP client sets it from the URL, and browsers refuse to
		}
		out.Header = append(out.Header, storage.Header{Name: textproto.CanonicalMIMEHeaderKey(name), Value: strings.Join(values, ",")})
	}
	slices.SortFunc(out.Header, func(a, b storage.Header) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

var noHoisting = []func(*v4.SignerOptions){func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true }}

func hasAmzHeader(h http.Header) bool {
	for name := range h {
		if len(name) >= 6 && strings.EqualFold(name[:6], "X-Amz-") {
			return true
		}
	}
	return false
}

// plainPath reports whether key needs no escaping in a URL path, by S3's
// rules or Go's, so that url.URL need not carry a RawPath.
func plainPath(key string) bool {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return true
}

// ifNoneMatchAny is shared by every PUT: the signer copies headers before
// it touches them.
var ifNoneMatchAny = []string{"*"}

// putQuery and partQuery name the operation as the SDK's presigner does
// (getSigner writes GetObject's).
const (
	putQuery  = "x-id=PutObject"
	partQuery = "x-id=UploadPart"
)

// presignPut signs a PutObject of exactly opts.Size bytes of
// opts.ContentType (and checksum, when given) that writes only if the key
// is free.
func (p *presigner) presignPut(ctx context.Context, key string, opts storage.PutOptions) (storage.Request, error) {
	h := make(http.Header, 3)
	h["Content-Type"] = []string{opts.ContentType}
	// Write once: a second PUT to the same URL cannot replace the object,
	// even before the URL expires.
	h["If-None-Match"] = ifNoneMatchAny
	if opts.ChecksumSHA256 != "" {
		h["X-Amz-Checksum-Sha256"] = []string{opts.ChecksumSHA256}
	}
	return p.sign(ctx, http.MethodPut, key, putQuery, h, opts.Size, opts.TTL)
}

// presignGet signs a GetObject whose response downloads as opts.FileName
// with opts.ContentType.
func (p *presigner) presignGet(ctx context.Context, key string, opts storage.GetOptions) (storage.Request, error) {
	return p.gets.presignGet(ctx, key, opts)
}

// presignPart signs an UploadPart of exactly opts.Size bytes (and
// checksum, when given) for part opts.Number of the upload.
func (p *presigner) presignPart(ctx context.Context, key, uploadID string, opts storage.PartOptions) (storage.Request, error) {
	h := make(http.Header, 1)
	if opts.ChecksumSHA256 != "" {
		h["X-Amz-Checksum-Sha256"] = []string{opts.ChecksumSHA256}
	}
	q := "partNumber=" + strconv.Itoa(opts.Number) + "&uploadId=" + url.QueryEscape(uploadID) + "&" + partQuery
	return p.sign(ctx, http.MethodPut, key, q, h, opts.Size, opts.TTL)
}
