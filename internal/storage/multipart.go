package storage

import (
	"context"
	"errors"
	"time"
)

// Multipart is uploads in parts that clients PUT straight to the store,
// each part presigned for its exact size (and checksum), then assembled
// into one object by the server. storagetest.RunMultipart holds the
// backends to one behaviour.
//
// An upload in parts lives at the key it will be completed to, under an id
// the store makes. Until it is completed or aborted its parts take space
// but no object is visible at the key.
type Multipart interface {
	// CreateMultipart starts an upload in parts to key and returns its id.
	CreateMultipart(ctx context.Context, key string, opts MultipartOptions) (uploadID string, err error)
	// PresignPart returns a request that uploads part opts.Number of the
	// upload: exactly opts.Size bytes (and, when given, the checksum). A
	// part PUT again before completion replaces the earlier one.
	PresignPart(ctx context.Context, key, uploadID string, opts PartOptions) (Request, error)
	// ListParts returns every part uploaded so far, all pages, by part
	// number. An upload that was completed or aborted is ErrNotExist.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	// CompleteMultipart assembles parts, as ListParts returned them, in
	// order into the object at key and ends the upload. The object appears
	// whole or not at all.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error
	// AbortMultipart ends the upload and removes its parts; aborting an
	// upload that is gone succeeds.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// MultipartLister enumerates a store's uploads in progress, so `filegraph
// reconcile` can find those no row knows.
type MultipartLister interface {
	// ListMultipart calls fn with each upload in progress under prefix, in
	// no promised order, stopping at fn's first error.
	ListMultipart(ctx context.Context, prefix string, fn func(MultipartUpload) error) error
}

// MultipartOptions are the facts an upload in parts is bound to.
type MultipartOptions struct {
	ContentType string
	// PartChecksums makes every part carry its SHA-256, which the store
	// verifies on upload.
	PartChecksums bool
}

// PartOptions are the facts one part's PUT is bound to.
type PartOptions struct {
	Number int // 1..10000
	Size   int64
	// ChecksumSHA256 is the base64 SHA-256 of the part; required when the
	// upload was created with PartChecksums.
	ChecksumSHA256 string
	TTL            time.Duration
}

// Part is one uploaded part.
type Part struct {
	Number         int
	Size           int64
	ETag           string
	ChecksumSHA256 string // base64, when the upload has part checksums
}

// MultipartUpload is one upload in progress.
type MultipartUpload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// The limits S3 puts on uploads in parts; the disk backend keeps the same.
const (
	MinPartSize      = 5 << 20 // every part but the last
	MaxPartSize      = 5 << 30 // any part
	MaxParts         = 10_000  // parts of one upload
	MaxMultipartSize = 5 << 40 // one object
	MaxSinglePutSize = 5 << 30 // one S3 PUT
)

// ErrInvalidPart means the parts named for completion are not the parts the
// store holds (one was replaced, or is missing or too small); listing the
// parts again and completing with those may succeed.
var ErrInvalidPart = errors.New("storage: parts do not match the upload")
