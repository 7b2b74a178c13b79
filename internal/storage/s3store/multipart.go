package s3store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/filegraph/filegraph/internal/storage"
)

// CreateMultipart implements storage.Multipart. With part checksums the
// upload is created with ChecksumAlgorithm SHA256, so S3 requires and
// verifies each part's x-amz-checksum-sha256.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts storage.MultipartOptions) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		ContentType: aws.String(opts.ContentType),
	}
	if opts.PartChecksums {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", classify("create multipart "+key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart implements storage.Multipart: an UploadPart request that
// signs Content-Length (and x-amz-checksum-sha256), so S3 refuses a part of
// any other length or content. It takes the fast path PresignPut takes.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, opts storage.PartOptions) (storage.Request, error) {
	req, err := s.fast.presignPart(ctx, key, uploadID, opts)
	if err != nil {
		return storage.Request{}, fmt.Errorf("s3store: presign part %d of %s: %w", opts.Number, key, err)
	}
	return req, nil
}

// ListParts implements storage.Multipart, following every page.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	in := &s3.ListPartsInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	if s.pageSize > 0 {
		in.MaxParts = aws.Int32(s.pageSize)
	}
	var parts []storage.Part
	pages := s3.NewListPartsPaginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify("list parts of "+key, err)
		}
		for _, p := range page.Parts {
			parts = append(parts, storage.Part{
				Number:         int(aws.ToInt32(p.PartNumber)),
				Size:           aws.ToInt64(p.Size),
				ETag:           aws.ToString(p.ETag),
				ChecksumSHA256: aws.ToString(p.ChecksumSHA256),
			})
		}
	}
	return parts, nil
}

// CompleteMultipart implements storage.Multipart. It names each part's
// ETag (and checksum), so S3 assembles exactly the parts that were listed,
// and pins the total size.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) error {
	done := make([]types.CompletedPart, len(parts))
	var size int64
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
		if p.ChecksumSHA256 != "" {
			done[i].ChecksumSHA256 = aws.String(p.ChecksumSHA256)
		}
		size += p.Size
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		MpuObjectSize:   aws.Int64(size),
	})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidPart", "InvalidPartOrder", "EntityTooSmall":
			return fmt.Errorf("s3store: complete multipart %s: %w: %w", key, storage.ErrInvalidPart, err)
		}
	}
	if err != nil {
		return classify("complete multipart "+key, err)
	}
	return nil
}

// AbortMultipart implements storage.Multipart.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	if err != nil {
		if err = classify("abort multipart "+key, err); errors.Is(err, storage.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

// ListMultipart implements storage.MultipartLister. It pages by key
// marker alone: versitygw (v1.8.0) refuses the upload-id marker it hands
// out, and Filegraph starts one upload per key, so a page never ends
// between two uploads of one key.
func (s *Store) ListMultipart(ctx context.Context, prefix string, fn func(storage.MultipartUpload) error) error {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	if s.pageSize > 0 {
		in.MaxUploads = aws.Int32(s.pageSize)
	}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return classify("list multipart uploads "+prefix, err)
		}
		for _, u := range page.Uploads {
			if err := fn(storage.MultipartUpload{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextKeyMarker) == "" {
			return nil
		}
		in.KeyMarker = page.NextKeyMarker
	}
}
