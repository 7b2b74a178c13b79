package diskstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

// Uploads in parts live in uploads/<id>/: info.json says what the upload is
// bound to, and each part is a file named <number>.<hex SHA-256 of its
// bytes>, so a part's name always describes its content: a part PUT again
// lands under a new name and then the old one goes. Completion copies the
// parts, in order, into one temporary file (copy_file_range on Linux: no
// bytes pass through memory), syncs it and renames it into place as a
// single PUT does; only then is the upload folder removed. An object at
// the key therefore means the upload was completed, whatever is left of
// its folder.

const (
	paramUploadID   = "uploadId"
	paramPartNumber = "partNumber"
)

type uploadInfo struct {
	Key           string    `json:"key"`
	ContentType   string    `json:"contentType"`
	PartChecksums bool      `json:"partChecksums"`
	Initiated     time.Time `json:"initiated"`
}

// CreateMultipart implements storage.Multipart.
func (s *Store) CreateMultipart(_ context.Context, key string, opts storage.MultipartOptions) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	info, _ := json.Marshal(uploadInfo{Key: key, ContentType: opts.ContentType, PartChecksums: opts.PartChecksums, Initiated: s.now().UTC()})
	// Mkdir, not MkdirAll: a store folder that has gone (an unmounted
	// volume) must not be made again.
	if err := os.Mkdir(s.uploadDir(id), 0o750); err != nil {
		return "", s.classifyFolder("create multipart "+key, err)
	}
	if err := writeFileAtomic(filepath.Join(s.uploadDir(id), "info.json"), info, s.tmpDir()); err != nil {
		os.RemoveAll(s.uploadDir(id))
		return "", s.classifyFolder("create multipart "+key, err)
	}
	return id, nil
}

// PresignPart implements storage.Multipart: the URL is signed for the key,
// the upload, the part number, the size and the checksum.
func (s *Store) PresignPart(_ context.Context, key, uploadID string, opts storage.PartOptions) (storage.Request, error) {
	if err := checkKey(key); err != nil {
		return storage.Request{}, err
	}
	if !validUploadID(uploadID) || opts.Number < 1 || opts.Number > storage.MaxParts {
		return storage.Request{}, fmt.Errorf("diskstore: invalid upload %q or part %d", uploadID, opts.Number)
	}
	exp := s.now().Add(opts.TTL).Truncate(time.Second)
	q := url.Values{}
	q.Set(paramUploadID, uploadID)
	q.Set(paramPartNumber, strconv.Itoa(opts.Number))
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSignature, s.sign(partClaims(key, uploadID, opts.Number, exp.Unix(), opts.Size, opts.ChecksumSHA256)))
	h := []storage.Header{{Name: "Content-Length", Value: strconv.FormatInt(opts.Size, 10)}}
	if opts.ChecksumSHA256 != "" {
		h = append(h, storage.Header{Name: headerChecksum, Value: opts.ChecksumSHA256})
	}
	return storage.Request{Method: "PUT", URL: s.url(key, q), Header: h, ExpiresAt: exp}, nil
}

func partClaims(key, uploadID string, number int, exp, size int64, checksum string) string {
	return strings.Join([]string{"PART", key, uploadID, strconv.Itoa(number), strconv.FormatInt(exp, 10), strconv.FormatInt(size, 10), checksum}, "\n")
}

// ListParts implements storage.Multipart.
func (s *Store) ListParts(_ context.Context, key, uploadID string) ([]storage.Part, error) {
	info, err := s.openUpload(key, uploadID)
	if err != nil {
		return nil, err
	}
	files, err := s.partFiles(uploadID)
	if err != nil {
		return nil, err
	}
	parts := make([]storage.Part, 0, len(files))
	for _, f := range files {
		p := storage.Part{Number: f.number, Size: f.size, ETag: etagOf(f.sum)}
		if info.PartChecksums {
			p.ChecksumSHA256 = base64.StdEncoding.EncodeToString(f.sum)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// CompleteMultipart implements storage.Multipart. It stops copying when
// ctx ends, and what it copied so far goes.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (err error) {
	info, err := s.openUpload(key, uploadID)
	if err != nil {
		return err
	}
	files, err := s.partFiles(uploadID)
	if err != nil {
		return err
	}
	byNumber := make(map[int]partFile, len(files))
	for _, f := range files {
		byNumber[f.number] = f
	}
	var chosen []partFile
	for i, p := range parts {
		f, ok := byNumber[p.Number]
		if !ok || (i > 0 && p.Number <= parts[i-1].Number) || f.size != p.Size || (p.ETag != "" && p.ETag != etagOf(f.sum)) {
			return fmt.Errorf("diskstore: complete %s: part %d: %w", key, p.Number, storage.ErrInvalidPart)
		}
		chosen = append(chosen, f)
	}
	if len(chosen) == 0 {
		return fmt.Errorf("diskstore: complete %s: no parts: %w", key, storage.ErrInvalidPart)
	}

	tmp, err := os.CreateTemp(s.tmpDir(), "complete-*")
	if err != nil {
		return fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	whole := compositeETag{}
	for _, f := range chosen {
		if err := appendFile(ctx, tmp, f.path, f.size); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return s.partGone(key, uploadID, f.number)
			}
			return fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
		}
		whole.add(f.sum)
	}
	// On disk before it is visible, as for a single PUT.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	m, _ := json.Marshal(meta{ContentType: info.ContentType, ETag: whole.etag(len(chosen))})
	gone, err := s.commitCompleted(key, uploadID, tmp.Name(), m)
	os.RemoveAll(gone) // outside the lock: a big upload's parts take a while
	return err
}

// commitCompleted puts the completed object in place, as a single PUT's
// last step does, and takes the upload's folder out of uploads/; it returns
// where that folder went, for the caller to delete.
func (s *Store) commitCompleted(key, uploadID, tmp string, m []byte) (string, error) {
	obj := s.objectPath(key)
	s.commit.Lock()
	defer s.commit.Unlock()
	if _, err := os.Lstat(obj); err == nil {
		// Completed by a concurrent call: this upload is over.
		return "", fmt.Errorf("diskstore: complete %s: %w", key, storage.ErrNotExist)
	}
	if _, err := os.Stat(s.uploadDir(uploadID)); err != nil {
		return "", fmt.Errorf("diskstore: complete %s: upload is gone: %w", key, storage.ErrNotExist)
	}
	if err := writeFileAtomic(s.metaPath(key), m, s.tmpDir()); err != nil {
		return "", fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	if err := os.MkdirAll(filepath.Dir(obj), 0o750); err != nil {
		return "", fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	if err := os.Rename(tmp, obj); err != nil {
		return "", fmt.Errorf("diskstore: complete %s: %w: %w", key, storage.ErrUnavailable, err)
	}
	// Left behind, the folder of a completed upload is skipped by
	// ListMultipart and removed by the next openUpload.
	gone, _ := s.detachUpload(uploadID)
	return gone, nil
}

// partGone says why a part vanished while its upload was being completed:
// the upload was completed by a concurrent call or aborted (it is over,
// ErrNotExist), or the part was replaced (ErrInvalidPart).
func (s *Store) partGone(key, uploadID string, number int) error {
	if _, err := os.Lstat(s.objectPath(key)); err == nil {
		return fmt.Errorf("diskstore: complete %s: completed by a concurrent call: %w", key, storage.ErrNotExist)
	}
	if _, err := os.Stat(s.uploadDir(uploadID)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("diskstore: complete %s: upload is gone: %w", key, storage.ErrNotExist)
	}
	return fmt.Errorf("diskstore: complete %s: part %d: %w", key, number, storage.ErrInvalidPart)
}

// appendChunk is how much of a part is copied between looks at the
// completion's context.
const appendChunk = 16 << 20

// appendFile copies exactly size bytes of the file at path to dst, a chunk
// at a time until ctx ends.
func appendFile(ctx context.Context, dst *os.File, path string, size int64) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	var n int64
	for n <= size { // a byte past size, to see a part grown meanwhile
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := min(appendChunk, size+1-n)
		// *os.File to *os.File: the kernel copies, memory stays flat.
		m, err := io.Copy(dst, io.LimitReader(src, chunk))
		n += m
		if err != nil {
			return err
		}
		if m < chunk {
			break
		}
	}
	if n != size {
		return fmt.Errorf("part %s has %d bytes, %d expected", filepath.Base(path), n, size)
	}
	return nil
}

// AbortMultipart implements storage.Multipart.
func (s *Store) AbortMultipart(_ context.Context, key, uploadID string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if !validUploadID(uploadID) {
		return fmt.Errorf("diskstore: invalid upload id %q", uploadID)
	}
	return s.removeUpload(uploadID)
}

// removeUpload deletes the upload's folder, if it is there.
func (s *Store) removeUpload(uploadID string) error {
	s.commit.Lock()
	gone, err := s.detachUpload(uploadID)
	s.commit.Unlock()
	os.RemoveAll(gone)
	return err
}

// detachUpload takes the upload's folder out of uploads/ in one rename, so
// no part PUT can land in it any more, and returns where it went (under
// tmp/, so what a crash leaves there is only ever temporary), or "" if it
// was not there, or not there to be taken (the error says why). The caller
// holds commit, and deletes the folder after.
func (s *Store) detachUpload(uploadID string) (string, error) {
	gone := filepath.Join(s.tmpDir(), "upload-"+uploadID+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	err := os.Rename(s.uploadDir(uploadID), gone)
	if err == nil {
		return gone, nil
	}
	op := "remove upload " + uploadID
	if _, serr := os.Lstat(s.uploadDir(uploadID)); errors.Is(serr, fs.ErrNotExist) {
		// Gone already, unless the whole store folder is.
		if serr = s.classify(op, serr); errors.Is(serr, storage.ErrNotExist) {
			return "", nil
		}
		return "", serr
	}
	return "", s.classifyFolder(op, err)
}

// ListMultipart implements storage.MultipartLister.
func (s *Store) ListMultipart(ctx context.Context, prefix string, fn func(storage.MultipartUpload) error) error {
	entries, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return s.classifyFolder("list multipart", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !validUploadID(e.Name()) {
			continue
		}
		info, err := s.readInfo(e.Name())
		if err != nil || !strings.HasPrefix(info.Key, prefix) {
			continue // being created or removed
		}
		if _, err := os.Lstat(s.objectPath(info.Key)); err == nil {
			continue // completed; its folder is left over from a crash
		}
		if err := fn(storage.MultipartUpload{Key: info.Key, UploadID: e.Name(), Initiated: info.Initiated}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) uploadDir(uploadID string) string {
	return filepath.Join(s.root, "uploads", uploadID)
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (s *Store) readInfo(uploadID string) (uploadInfo, error) {
	var info uploadInfo
	b, err := os.ReadFile(filepath.Join(s.uploadDir(uploadID), "info.json"))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// openUpload reads the upload's info, or returns ErrNotExist when the
// upload is unknown, belongs to another key, or was completed (then what a
// crash left of its folder is removed).
func (s *Store) openUpload(key, uploadID string) (uploadInfo, error) {
	if err := checkKey(key); err != nil {
		return uploadInfo{}, err
	}
	if !validUploadID(uploadID) {
		return uploadInfo{}, fmt.Errorf("diskstore: upload %q: %w", uploadID, storage.ErrNotExist)
	}
	info, err := s.readInfo(uploadID)
	switch {
	case err == nil && info.Key != key:
		return info, fmt.Errorf("diskstore: upload %s of %s: %w", uploadID, key, storage.ErrNotExist)
	case err != nil:
		// Not there is ErrNotExist only while the store's folder is.
		return info, s.classify("upload "+uploadID+" of "+key, err)
	}
	if _, err := os.Lstat(s.objectPath(key)); err == nil {
		s.removeUpload(uploadID) // best effort: it is over either way
		return info, fmt.Errorf("diskstore: upload %s of %s was completed: %w", uploadID, key, storage.ErrNotExist)
	}
	return info, nil
}

type partFile struct {
	number int
	sum    []byte // SHA-256 of the bytes
	size   int64
	path   string
	mod    time.Time
}

// partFiles lists the upload's parts by number. Should a crash have left
// two files for one number, the newer wins, as the later PUT would have.
func (s *Store) partFiles(uploadID string) ([]partFile, error) {
	dir := s.uploadDir(uploadID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, s.classify("upload "+uploadID, err)
	}
	byNumber := map[int]partFile{}
	for _, e := range entries {
		number, sum, ok := parsePartName(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // replaced meanwhile
		}
		f := partFile{number: number, sum: sum, size: fi.Size(), path: filepath.Join(dir, e.Name()), mod: fi.ModTime()}
		if old, dup := byNumber[number]; !dup || f.mod.After(old.mod) {
			byNumber[number] = f
		}
	}
	out := make([]partFile, 0, len(byNumber))
	for _, f := range byNumber {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out, nil
}

func partName(number int, sum []byte) string {
	return fmt.Sprintf("%05d.%s", number, hex.EncodeToString(sum))
}

func parsePartName(name string) (int, []byte, bool) {
	num, h, ok := strings.Cut(name, ".")
	if !ok || len(num) != 5 || len(h) != 64 {
		return 0, nil, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > storage.MaxParts {
		return 0, nil, false
	}
	sum, err := hex.DecodeString(h)
	if err != nil {
		return 0, nil, false
	}
	return n, sum, true
}

func etagOf(sum []byte) string { return `"` + hex.EncodeToString(sum[:16]) + `"` }

// compositeETag makes an S3-style ETag for a completed upload ("<hash>-N"):
// here a SHA-256 over the parts' digests, which is what an ETag promises
// (it changes when the content does), not an MD5.
type compositeETag struct{ sums []byte }

func (c *compositeETag) add(sum []byte) { c.sums = append(c.sums, sum...) }

func (c *compositeETag) etag(n int) string {
	sum := sha256.Sum256(c.sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(sum[:16]), n)
}
