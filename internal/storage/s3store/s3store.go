// Package s3store keeps objects in an Amazon S3 bucket or any S3-compatible
// store (MinIO, Cloudflare R2, versitygw, ...), using aws-sdk-go-v2.
//
// Uploads are presigned PutObject requests that sign Content-Length and
// Content-Type (and x-amz-checksum-sha256 when the client announced a
// checksum), so S3 itself refuses a body that differs from what was
// announced. They also sign If-None-Match: *, an S3 conditional write, so an
// upload URL writes once: replaying it cannot replace a saved file. The
// client is built with request checksum calculation "when required":
// otherwise the SDK adds checksum parameters to presigned URLs that a
// browser cannot satisfy. Downloads are presigned GetObject requests
// whose response-content-disposition makes the browser save the file under
// its original name. Both are signed by the SDK's v4 signer on requests the
// store builds (presign.go), not through the SDK's presign client, which
// costs several times as much per URL; a test holds both to the same URLs.
// Stat and Delete, the HEAD of every saved file and the DELETE of every
// deleted one, are signed the same way and sent without the SDK's
// operation stack, through its HTTP client and retryer (calls.go).
//
// Errors are classified at this boundary (see classify): a 404 is
// storage.ErrNotExist; no answer (network failure, timeout), a 5xx or
// throttling is storage.ErrUnavailable; any other answer, such as 400 for a
// bad bucket name or 403 for credentials the store does not accept, is
// storage.ErrMisconfigured, with the store's code and message in the error.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/filegraph/filegraph/internal/storage"
)

// Config selects the bucket and how to reach it.
type Config struct {
	Bucket         string
	Region         string
	Endpoint       string // empty for AWS itself
	ForcePathStyle bool
	// Credentials overrides the SDK's default chain (environment, shared
	// files, instance roles); nil uses the chain.
	Credentials aws.CredentialsProvider
	// PublicBaseURL, followed by a key under storage.PublicPrefix, reads
	// the object without a signature (the bucket's policy allows it, or a
	// CDN in front); empty: the store names no public URLs.
	PublicBaseURL string
}

// Store is a storage.Store on one S3 bucket.
type Store struct {
	bucket  string
	client  *s3.Client
	presign *s3.PresignClient // the SDK's, for what fast does not sign
	fast    *presigner
	calls   *objectCalls // HeadObject and DeleteObject, without the SDK's stack
	// pageSize, when set, bounds the items of one list page, so tests see
	// listings that take several pages.
	pageSize int32
	now      func() time.Time // signing time; tests run it behind to get expired URLs
	// publicBase is Config.PublicBaseURL.
	publicBase string
}

var _ storage.Store = (*Store)(nil)

// New builds the client and checks that the bucket answers, so that a wrong
// name, endpoint or credential stops the server at start with an error that
// says which.
func New(ctx context.Context, cfg Config) (*Store, error) {
	s, err := newStore(ctx, cfg, time.Now)
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return nil, fmt.Errorf("s3store: bucket %q: %s: %w", cfg.Bucket, advice(err, cfg), err)
	}
	return s, nil
}

// advice says in plain words what a failed first look at the bucket means.
func advice(err error, cfg Config) string {
	status := 0
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "AWS S3"
	}
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return fmt.Sprintf("the store at %s did not answer or is failing: is S3_ENDPOINT right and the store up?", endpoint)
	case status == http.StatusNotFound:
		return fmt.Sprintf("there is no such bucket at %s: create it, or correct S3_BUCKET", endpoint)
	case status == http.StatusForbidden:
		return "access denied: the store does not accept these credentials for this bucket; check the access key and secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or your profile) and the bucket's policy"
	case status == http.StatusBadRequest:
		return "the store calls the request malformed: check that S3_BUCKET is a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens) and that S3_REGION and S3_ENDPOINT are right"
	case status >= 300 && status < 400:
		return "the bucket is elsewhere: set S3_REGION to the bucket's region"
	case errors.Is(err, storage.ErrMisconfigured):
		return "the store refused the request: check the S3 settings and credentials"
	}
	return "the bucket could not be used"
}

// idleConnections is how many connections to the bucket's endpoint stay
// open between calls. Every call goes to one host, of which the SDK keeps
// 10 idle: beyond 10 calls at once (a save makes up to 8 HEADs at once),
// each call opened a TCP connection and closed it after. 128 is the
// storage calls of 16 saves at once.
const idleConnections = 128

func keepConnections(t *http.Transport) {
	t.MaxIdleConns = idleConnections
	t.MaxIdleConnsPerHost = idleConnections
}

// newStore builds the client without looking at the bucket.
func newStore(ctx context.Context, cfg Config, now func() time.Time) (*Store, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryMaxAttempts(3),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(30 * time.Second).
			WithTransportOptions(keepConnections)),
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: loading AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &Store{bucket: cfg.Bucket, client: client, now: now, publicBase: cfg.PublicBaseURL}
	s.presign = s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		// As the SDK's default presigner: S3 paths are escaped once.
		signer := v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })
		o.Presigner = clockedPresigner{signer, now}
	})
	if s.fast, err = newPresigner(ctx, s.presign, cfg.Bucket, awsCfg.Credentials, now); err != nil {
		return nil, err
	}
	o := client.Options()
	s.calls = newObjectCalls(s.fast.gets, o.HTTPClient, o.Retryer)
	return s, nil
}

// clockedPresigner signs at the store's time rather than the SDK's.
type clockedPresigner struct {
	s3.HTTPPresignerV4
	now func() time.Time
}

func (p clockedPresigner) PresignHTTP(ctx context.Context, cred aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.HTTPPresignerV4.PresignHTTP(ctx, cred, r, payloadHash, service, region, p.now(), optFns...)
}

// Bucket implements storage.Store.
func (s *Store) Bucket() string { return s.bucket }

// MaxPutSize implements storage.Store: S3 takes 5 GiB in one PUT.
func (s *Store) MaxPutSize() int64 { return storage.MaxSinglePutSize }

// PresignPut implements storage.Store.
func (s *Store) PresignPut(ctx context.Context, key string, opts storage.PutOptions) (storage.Request, error) {
	req, err := s.fast.presignPut(ctx, key, opts)
	if err != nil {
		return storage.Request{}, fmt.Errorf("s3store: presign put %s: %w", key, err)
	}
	return req, nil
}

// PresignGet implements storage.Store.
func (s *Store) PresignGet(ctx context.Context, key string, opts storage.GetOptions) (storage.Request, error) {
	req, err := s.fast.presignGet(ctx, key, opts)
	if err != nil {
		return storage.Request{}, fmt.Errorf("s3store: presign get %s: %w", key, err)
	}
	return req, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.Object, error) {
	res, err := s.calls.do(ctx, http.MethodHead, key, true)
	if err != nil {
		return storage.Object{}, classify("stat "+key, err)
	}
	defer drain(res)
	// As the SDK reads HeadObject's answer: the first value of each,
	// trimmed; no Content-Length is 0.
	var obj storage.Object
	if v := res.Header.Values("Content-Length"); len(v) != 0 {
		if obj.Size, err = strconv.ParseInt(strings.TrimSpace(v[0]), 0, 64); err != nil {
			return storage.Object{}, classify("stat "+key, &answer{status: res.StatusCode, code: "InvalidContentLength", message: err.Error(), err: err})
		}
	}
	if v := res.Header.Values("Content-Type"); len(v) != 0 {
		obj.ContentType = strings.TrimSpace(v[0])
	}
	if v := res.Header.Values("X-Amz-Checksum-Sha256"); len(v) != 0 {
		obj.ChecksumSHA256 = strings.TrimSpace(v[0])
	}
	return obj, nil
}

// Open implements storage.Store. A failure while reading the body is the
// reader's error, classified as unavailable: the caller tries again later.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, classify("get "+key, err)
	}
	return readErrors{out.Body, key}, nil
}

// readErrors marks an error reading an object's body as unavailable.
type readErrors struct {
	io.ReadCloser
	key string
}

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("s3store: reading %s: %w: %w", r.key, storage.ErrUnavailable, err)
	}
	return n, err
}

// Put implements storage.Store: one PutObject, its SHA-256 checked by S3.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ContentType:       aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return classify("put "+key, err)
	}
	return nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	res, err := s.calls.do(ctx, http.MethodDelete, key, false)
	if err != nil {
		err = classify("delete "+key, err)
		if errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		return err
	}
	drain(res)
	return nil
}

var _ storage.Copier = (*Store)(nil)

// Copy implements storage.Copier with one CopyObject, which keeps the
// content type (metadata is copied) and replaces dst.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.bucket),
		Key:        aws.String(dst),
		CopySource: aws.String((&url.URL{Path: s.bucket + "/" + src}).EscapedPath()),
	})
	if err != nil {
		return classify("copy "+src+" to "+dst, err)
	}
	return nil
}

// List implements storage.Lister, a page of up to 1000 keys at a time.
func (s *Store) List(ctx context.Context, prefix string, fn func(string) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return classify("list "+prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ping implements storage.Store.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		if c := classify("head bucket", err); !errors.Is(c, storage.ErrNotExist) {
			return c
		}
		// A missing bucket is not a missing object: the setting is wrong.
		return fmt.Errorf("s3store: head bucket: %w: %w", storage.ErrMisconfigured, &answer{status: http.StatusNotFound, code: "NoSuchBucket", err: err})
	}
	return nil
}

// CORSRule is the bucket rule that lets browsers on origins PUT and GET
// through presigned URLs.
func CORSRule(origins []string) types.CORSRule {
	return types.CORSRule{
		AllowedOrigins: origins,
		AllowedMethods: []string{"PUT", "GET", "HEAD"},
		AllowedHeaders: storage.CORSHeaders,
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  aws.Int32(3600),
	}
}

// SetCORS replaces the bucket's CORS configuration with CORSRule(origins).
func (s *Store) SetCORS(ctx context.Context, origins []string) error {
	_, err := s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket:            aws.String(s.bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{CORSRule(origins)}},
	})
	if err != nil {
		return fmt.Errorf("s3store: put bucket CORS: %w", err)
	}
	return nil
}

// classify sorts a failed call into the classes of package storage. The
// store's code and message stay in the error for the log.
func classify(op string, err error) error {
	a, own := errors.AsType[*answer](err) // objectCalls' answers
	if re, ok := errors.AsType[*awshttp.ResponseError](err); !own && ok && re.HTTPStatusCode() != 0 {
		a = &answer{status: re.HTTPStatusCode(), err: err}
		if apiErr, ok := errors.AsType[smithy.APIError](err); ok {
			a.code, a.message = apiErr.ErrorCode(), apiErr.ErrorMessage()
		}
	}
	if a != nil {
		_, throttled := retry.DefaultThrottleErrorCodes[a.code]
		_, timedOut := retry.DefaultRetryableErrorCodes[a.code]
		switch {
		case a.status == http.StatusNotFound:
			return fmt.Errorf("s3store: %s: %w", op, storage.ErrNotExist)
		case a.status >= 500 || a.status == http.StatusTooManyRequests || throttled || timedOut:
			return fmt.Errorf("s3store: %s: %w: %w", op, storage.ErrUnavailable, a)
		}
		return fmt.Errorf("s3store: %s: %w: %w", op, storage.ErrMisconfigured, a)
	}
	// No answer. Credentials that cannot be had (none configured) are a
	// configuration problem unless fetching them failed on the network.
	_, signing := errors.AsType[*v4.SigningError](err)
	_, netErr := errors.AsType[net.Error](err)
	if signing && !netErr {
		return fmt.Errorf("s3store: %s: %w: %w", op, storage.ErrMisconfigured, err)
	}
	return fmt.Errorf("s3store: %s: %w: %w", op, storage.ErrUnavailable, err)
}

// answer is the store's reply to a failed call, said briefly: the SDK's
// own message repeats the operation and request ids.
type answer struct {
	status        int
	code, message string
	retryAfter    string // x-amz-retry-after, for objectCalls' retries
	err           error
}

// HTTPStatusCode and ErrorCode tell the SDK's retryer what the answer was,
// as its own errors do.
func (a *answer) HTTPStatusCode() int { return a.status }
func (a *answer) ErrorCode() string   { return a.code }

func (a *answer) Error() string {
	s := fmt.Sprintf("HTTP %d %s", a.status, a.code)
	if a.message != "" && a.message != a.code {
		s += ": " + a.message
	}
	return s
}

func (a *answer) Unwrap() error { return a.err }
