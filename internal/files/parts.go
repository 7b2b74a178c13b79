package files

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// Uploads in parts: the client asks createMultipartUploads for an upload,
// PUTs the parts straight to the store with URLs from UploadPartURLs (in
// parallel, in any order, again after a reload), and saves as usual. The
// server chooses the part size, lists the parts in the store itself at
// save time (so the client never reads an ETag), completes the object and
// then verifies it as it verifies a single PUT.

// MaxPartsPerCall bounds uploadPartUrls.
const MaxPartsPerCall = 100

// ErrUploadNotFound means the caller has no pending upload of that name.
var ErrUploadNotFound error = notFound("upload not found")

type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// MultipartRequest is what a client announces about one file it will
// upload in parts.
type MultipartRequest struct {
	OriginalName  string
	Size          int64
	ContentType   string          // optional
	PartChecksums *bool           // optional
	Folder        string          // optional: "" is the root
	Metadata      schema.Metadata // optional
	Collection    string          // optional: DefaultCollection
}

// MultipartUpload is an issued upload in parts.
type MultipartUpload struct {
	FileName     string
	OriginalName string
	Size         int64
	PartSize     int64
	PartCount    int
	ExpiresAt    time.Time
}

// PartRequest asks for the URL of one part.
type PartRequest struct {
	PartNumber     int
	ChecksumSHA256 *string
}

// UploadPart is a presigned PUT for one part.
type UploadPart struct {
	PartNumber int
	Size       int64
	storage.Request
}

// partLayout returns the part size and count for a file of size bytes:
// PART_SIZE, grown (in whole MiB) when the file would need more than
// storage.MaxParts parts.
func (s *Service) partLayout(size int64) (partSize int64, count int) {
	partSize = max(s.cfg.PartSize, storage.MinPartSize)
	if size > partSize*storage.MaxParts {
		const mib = 1 << 20
		partSize = (size + storage.MaxParts - 1) / storage.MaxParts
		partSize = (partSize + mib - 1) / mib * mib
	}
	return partSize, int((size + partSize - 1) / partSize)
}

// inParts reports whether u is an upload in parts, rather than a single PUT.
func inParts(u *ent.Upload) bool { return u.MultipartID != "" }

// partSizeOf is the length of part n (1-based) of u.
func partSizeOf(u *ent.Upload, n int) int64 {
	if n < u.PartCount {
		return u.PartSize
	}
	return u.Size - int64(u.PartCount-1)*u.PartSize
}

// CreateMultipartUploads validates the requests, starts an upload in parts
// in the store for each, and records them; nothing is issued unless every
// request is valid and within the caller's limits.
func (s *Service) CreateMultipartUploads(ctx context.Context, reqs []*MultipartRequest) ([]*MultipartUpload, error) {
	asUploads := make([]*UploadRequest, len(reqs))
	for i, r := range reqs {
		if r != nil {
			asUploads[i] = &UploadRequest{OriginalName: r.OriginalName, Size: r.Size, ContentType: r.ContentType, Folder: r.Folder, Metadata: r.Metadata, Collection: r.Collection}
		}
	}
	var out []*MultipartUpload
	var ids []string
	// The store's uploads come first (their ids go in the rows); should
	// the rows not be written, they are aborted again. One a crash leaves
	// behind holds no parts (no part URL was signed), and reconcile finds it.
	err := s.issueUploads(ctx, asUploads, kindParts, func(rows []issued) error {
		out = make([]*MultipartUpload, len(rows))
		ids = make([]string, len(rows))
		var g errgroup.Group
		g.SetLimit(storageConcurrency)
		for i, r := range rows {
			checksums := reqs[i].PartChecksums != nil && *reqs[i].PartChecksums
			g.Go(func() error {
				id, err := s.store.CreateMultipart(ctx, r.key, storage.MultipartOptions{ContentType: r.ContentType, PartChecksums: checksums})
				ids[i] = id
				return err
			})
			partSize, count := s.partLayout(r.Size)
			out[i] = &MultipartUpload{FileName: r.key, OriginalName: r.OriginalName, Size: r.Size, PartSize: partSize, PartCount: count, ExpiresAt: r.expires}
			r.row.PartSize, r.row.PartCount, r.row.PartChecksums = partSize, count, checksums
		}
		if err := g.Wait(); err != nil {
			return storageError("starting upload in parts", err)
		}
		for i, r := range rows {
			r.row.MultipartID = ids[i]
		}
		return nil
	}, nil)
	if err != nil {
		if ids != nil {
			s.abortStartedMultiparts(ctx, out, ids)
		}
		return nil, err
	}
	return out, nil
}

// abortStartedMultiparts aborts the store's uploads of a refused create, even if the
// request is ending; what fails here is left to reconcile.
func (s *Service) abortStartedMultiparts(ctx context.Context, out []*MultipartUpload, ids []string) {
	ctx = context.WithoutCancel(ctx)
	for i, id := range ids {
		if id == "" {
			continue
		}
		if err := s.store.AbortMultipart(ctx, out[i].FileName, id); err != nil {
			s.log.WarnContext(ctx, "files.multipart_abort_failed", "key", out[i].FileName, "err", err)
		}
	}
}

// UploadPartURLs presigns PUTs for parts of one of the caller's pending
// uploads in parts, each for the part's exact size (and checksum). A URL
// lives UPLOAD_URL_TTL, never past the upload's own deadline.
func (s *Service) UploadPartURLs(ctx context.Context, fileName string, reqs []*PartRequest) ([]*UploadPart, error) {
	var ps problems
	switch {
	case len(reqs) == 0:
		ps.add("parts", "must list at least one part")
	case len(reqs) > MaxPartsPerCall:
		ps.add("parts", "lists %d parts, at most %d are allowed in one call", len(reqs), MaxPartsPerCall)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	u, err := s.callersUpload(ctx, fileName)
	if err != nil {
		return nil, err
	}
	if !inParts(u) {
		return nil, &InvalidError{Problems: []Problem{{Field: "fileName", Message: fmt.Sprintf("%q is a single PUT from createUploadUrls; it has no parts", fileName)}}}
	}
	deadline := s.saveDeadline(u)
	if !deadline.After(s.cfg.Now()) {
		return nil, &InvalidError{Problems: []Problem{{Field: "fileName", Message: fmt.Sprintf("%q expired at %s; upload it again", fileName, deadline.UTC().Format(time.RFC3339))}}}
	}
	for i, r := range reqs {
		field := fmt.Sprintf("parts[%d]", i)
		if r == nil {
			ps.add(field, "must not be null")
			continue
		}
		if r.PartNumber < 1 || r.PartNumber > u.PartCount {
			ps.add(field+".partNumber", "must be from 1 to %d, got %d", u.PartCount, r.PartNumber)
		}
		switch sum := r.ChecksumSHA256; {
		case u.PartChecksums && (sum == nil || *sum == ""):
			ps.add(field+".checksumSHA256", "is required: the upload asked for partChecksums")
		case !u.PartChecksums && sum != nil && *sum != "":
			ps.add(field+".checksumSHA256", "must be left out: the upload was created without partChecksums")
		case sum != nil && *sum != "" && !validChecksum(*sum):
			ps.add(field+".checksumSHA256", "must be the base64 encoding of a 32-byte SHA-256 digest")
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := s.requireStorageUp(ctx); err != nil {
		return nil, err
	}
	ttl := min(s.cfg.UploadURLTTL, deadline.Sub(s.cfg.Now()))
	out := make([]*UploadPart, len(reqs))
	for i, r := range reqs {
		opts := storage.PartOptions{Number: r.PartNumber, Size: partSizeOf(u, r.PartNumber), TTL: ttl}
		if r.ChecksumSHA256 != nil {
			opts.ChecksumSHA256 = *r.ChecksumSHA256
		}
		req, err := s.store.PresignPart(ctx, u.FileName, u.MultipartID, opts)
		if err != nil {
			return nil, storageError("presigning part", err)
		}
		out[i] = &UploadPart{PartNumber: r.PartNumber, Size: opts.Size, Request: req}
	}
	return out, nil
}

// callersUpload returns the caller's own pending upload of that name, past
// its deadline or not; another user's is not there.
func (s *Service) callersUpload(ctx context.Context, fileName string) (*ent.Upload, error) {
	user, err := auth.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.db.Upload.Query().Where(upload.FileName(fileName), upload.Owner(user.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrUploadNotFound
	}
	if err != nil {
		return nil, dbError("reading upload", err)
	}
	return u, nil
}

// checkPutSize refuses, for createUploadUrls, files larger than the store
// takes in one PUT, and points at the way that takes them.
func (s *Service) checkPutSize(reqs []UploadRequest) error {
	limit := s.store.MaxPutSize()
	if limit == 0 {
		return nil
	}
	var ps problems
	for i, r := range reqs {
		if r.Size > limit {
			ps.add(fmt.Sprintf("files[%d].size", i), "%d bytes is more than this storage takes in one PUT (%d); upload it in parts with createMultipartUploads", r.Size, limit)
		}
	}
	return ps.err()
}
