// Package storage defines what Filegraph needs of an object store, and
// nothing more: presigned PUT and GET requests that clients send straight to
// the store, a look at an object, and its removal. Bytes never pass through
// the API server.
//
// Backends live in their own packages (s3store, diskstore) and are held to
// the same behaviour by the conformance suite in storagetest.
//
// Every ability the rules use (objects, listing them, uploads in parts and
// listing those) is part of Store, as in gocloud.dev's driver.Bucket: both
// backends have them all, so callers never look for one with a type
// assertion, and a decorator (telemetry) wraps one interface once. What
// only one backend has and only the wiring uses (URLServer, PutGate,
// StaleCleaner, Copier) stays a separate interface that internal/server looks for
// once, when it opens the store, as tusd's StoreComposer is filled once.
//
// Backends classify every failure at their boundary, and callers branch on
// the class:
//   - ErrNotExist: no object at the key.
//   - ErrUnavailable: the store could not be reached or was overloaded
//     (network failure, timeout, 5xx, throttling); the same call may
//     succeed later, so clients are told to retry.
//   - ErrMisconfigured: the store answered and refused (wrong bucket,
//     credentials or permissions: S3's 400 and 403); retrying cannot help,
//     an operator must fix the configuration. Clients see an internal error;
//     the error text carries the store's code and message for the log.
//
// Any other error is a bug and is reported as internal too.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Store is one bucket of an object store.
type Store interface {
	// Bucket names the bucket that keys live in; it is saved with each file.
	Bucket() string
	// PresignPut returns a request that uploads exactly one body of
	// opts.Size bytes and type opts.ContentType to key; the store refuses
	// any other length, type, or (when given) checksum, and refuses to
	// replace an object that is already there (412).
	PresignPut(ctx context.Context, key string, opts PutOptions) (Request, error)
	// PresignGet returns a request that downloads key as an attachment named
	// opts.FileName with type opts.ContentType.
	PresignGet(ctx context.Context, key string, opts GetOptions) (Request, error)
	// Stat describes the object at key, or returns ErrNotExist.
	Stat(ctx context.Context, key string) (Object, error)
	// Open streams the object at key, or returns ErrNotExist: background
	// jobs (a virus scan, image variants) read a saved file through it,
	// the only place bytes pass through Filegraph. The caller closes it.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Put writes data of contentType at key, replacing any object there:
	// what a background job makes (image variants) is stored through it,
	// never what a client uploads.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Delete removes the object at key; removing a missing object succeeds.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the store answers, for readiness checks.
	Ping(ctx context.Context) error
	// MaxPutSize is the most the store takes in one single PUT (S3: 5 GiB),
	// so larger files must go in parts; 0 for no limit.
	MaxPutSize() int64
	// PublicURL returns the stable, unsigned URL of key, which is under
	// PublicPrefix, or "" when the store knows of none. diskstore serves
	// such keys itself; s3store is told where the bucket (or a CDN before
	// it) is readable.
	PublicURL(key string) string

	Lister          // its keys, for reconcile
	Multipart       // uploads in parts
	MultipartLister // its uploads in parts, for reconcile
}

// URLServer is an optional ability: a store that serves its presigned URLs
// itself (diskstore) rather than through an object store. Filegraph mounts
// its handler at the base path of those URLs.
type URLServer interface {
	Handler() http.Handler
}

// PutGate is an optional ability of a store that serves its own URLs
// (diskstore): it asks gate whether an upload may still land before it
// takes a PUT's body and again before it keeps it, and stops reading the
// body at the time gate returns. So a URL stops working once its upload is
// saved, deleted or swept. A store whose URLs cannot be revoked (S3)
// relies on tombstones instead (files.Service).
type PutGate interface {
	SetPutGate(gate Gate)
}

// PublicGate is an optional ability of a store that serves public keys
// itself (diskstore): it asks gate before serving one, and answers 404
// when gate says no (a file the virus scan has not cleared).
type PublicGate interface {
	SetPublicGate(gate func(ctx context.Context, key string) (bool, error))
}

// Copier is an optional ability of a store that copies an object within
// its bucket on its own side (S3's CopyObject), the bytes never passing
// through Filegraph. With it, a public collection's upload waits for the
// virus scan under the private prefix and is copied to its public key once
// clean, since the store (a bucket policy) serves public keys to anyone.
// A store that serves public keys itself (diskstore) gates them instead
// (PublicGate).
type Copier interface {
	// Copy makes dst a copy of src, bytes and content type, replacing
	// dst; src missing is ErrNotExist. It copies up to MaxCopySize bytes.
	Copy(ctx context.Context, src, dst string) error
}

// MaxCopySize is the largest object a Copier copies in one call (S3's
// CopyObject limit).
const MaxCopySize = 5 << 30

// Gate says until when an upload to key may land and whose it is, or
// returns the zero Pending if no upload to key is pending any more.
type Gate func(ctx context.Context, key string) (Pending, error)

// Pending is what a Gate knows of an upload still to land.
type Pending struct {
	Until time.Time // zero: not pending
	// Owner is the user the upload was issued to: a store that bounds the
	// PUTs in flight per user counts it against them. Keys do not say.
	Owner string
}

// PublicPrefix is where keys readable by anyone, without a signature, live:
// diskstore serves them as they are, and on S3 a bucket policy grants
// s3:GetObject on exactly this prefix (see the README).
const PublicPrefix = "public/"

// Lister enumerates a store's keys, for `filegraph reconcile`.
type Lister interface {
	// List calls fn with each key under prefix, in no promised order,
	// stopping at fn's first error.
	List(ctx context.Context, prefix string, fn func(key string) error) error
}

// StaleCleaner is an optional ability: a store that keeps temporary data
// of its own (diskstore: partial uploads) and can remove what processes
// that are gone, crashed or killed, left of it. The server calls it every SWEEP_INTERVAL.
type StaleCleaner interface {
	// CleanStale removes the leftovers and says how many it removed.
	CleanStale(ctx context.Context) (int, error)
}

// CORSHeaders are the request headers a browser sends with a presigned
// PUT that a CORS preflight must allow (Content-Length is the browser's own).
var CORSHeaders = []string{"Content-Type", "If-None-Match", "x-amz-checksum-sha256"}

// PutOptions are the facts an upload is bound to.
type PutOptions struct {
	Size        int64
	ContentType string
	// ChecksumSHA256 is the base64 SHA-256 of the body, or empty.
	ChecksumSHA256 string
	TTL            time.Duration
}

// GetOptions shape the download response.
type GetOptions struct {
	FileName    string
	ContentType string
	TTL         time.Duration
}

// Request is a presigned HTTP request a client can send as is.
type Request struct {
	Method string
	URL    string
	// Header holds exactly the headers the client must send, sorted by name.
	Header    []Header
	ExpiresAt time.Time
}

// Header is one HTTP header of a presigned request.
type Header struct {
	Name  string
	Value string
}

// Object describes a stored object.
type Object struct {
	Size        int64
	ContentType string
	// ChecksumSHA256 is the base64 SHA-256 the store verified, if it keeps one.
	ChecksumSHA256 string
}

var (
	// ErrNotExist means the object is not in the store.
	ErrNotExist = errors.New("storage: object does not exist")
	// ErrUnavailable means the store could not be reached or was
	// overloaded; the same call may succeed later.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrMisconfigured means the store refused the request for a reason
	// retrying cannot fix; the configuration must change.
	ErrMisconfigured = errors.New("storage: refused by the store (a configuration problem, not an outage)")
	// ErrInsufficientStorage is the kind of ErrUnavailable that means the
	// store is out of space (disk storage below its free-space threshold,
	// or a full disk): new objects cannot be taken until space is freed.
	ErrInsufficientStorage = fmt.Errorf("%w: not enough free space", ErrUnavailable)
)
