package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/filegraph/filegraph/internal/storage"
)

// putPart receives one part of an upload in parts, checked as a single PUT
// is: signature over key, upload, part number, length and checksum first;
// then admitted as a single PUT is (the upload still pending per the gate,
// no object completed at the key, no other PUT of this part streaming),
// the body streamed to a temporary file until the upload's deadline, its
// length and checksum checked, synced, the gate asked again, and renamed
// into the upload's folder.
func (s *Store) putPart(w http.ResponseWriter, r *http.Request, key string) {
	exp, expired := s.expired(r)
	if expired {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "Content-Length is required", http.StatusLengthRequired)
		return
	}
	q := r.URL.Query()
	uploadID := q.Get(paramUploadID)
	number, err := strconv.Atoi(q.Get(paramPartNumber))
	checksum := r.Header.Get(headerChecksum)
	if err != nil || !s.verify(partClaims(key, uploadID, number, exp, r.ContentLength, checksum), q.Get(paramSignature)) {
		http.Error(w, "signature does not match the request", http.StatusForbidden)
		return
	}
	info, err := s.openUpload(key, uploadID)
	if err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			http.Error(w, "no such upload", http.StatusNotFound)
			return
		}
		// Not to be taken for a missing upload: descriptors run out, say.
		writeFailed(w, r, err, "diskstore.put_part_failed", "key", key, "part", number)
		return
	}
	if info.PartChecksums && checksum == "" {
		http.Error(w, "this upload needs "+headerChecksum+" on every part", http.StatusBadRequest)
		return
	}
	deadline, release, refused := s.admit(r.Context(), key, key+"#"+uploadID+"#"+strconv.Itoa(number), exp)
	if refused != nil {
		refuse(w, refused)
		return
	}
	defer release()
	sum, err := s.writePart(r.Context(), key, uploadID, number, s.body(w, r, deadline), r.ContentLength, checksum)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "no such upload", http.StatusNotFound)
			return
		}
		writeFailed(w, r, err, "diskstore.put_part_failed", "key", key, "part", number)
		return
	}
	w.Header().Set("ETag", etagOf(sum))
	w.WriteHeader(http.StatusOK)
}

// writePart stores part number of the upload if body has exactly size
// bytes and, when given, the checksum; an earlier part of that number is
// replaced.
func (s *Store) writePart(ctx context.Context, key, uploadID string, number int, body io.Reader, size int64, checksum string) (_ []byte, err error) {
	body, err = awaitBody(body)
	if err != nil {
		return nil, bodyError(err)
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "part-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	// Through the page cache: completion reads the part back, from there
	// while it is recent (read from the disk, 512 MiB in 8 parts took 0.9 s
	// to complete rather than 0.6).
	n, readErr, err := copyHashed(newFileWriter(tmp, false), h, io.LimitReader(body, size+1))
	if err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, bodyError(readErr)
	}
	if n != size {
		return nil, &badBodyError{fmt.Sprintf("body has %d bytes, signed length is %d", n, size)}
	}
	sum := h.Sum(nil)
	if checksum != "" && base64.StdEncoding.EncodeToString(sum) != checksum {
		return nil, &badBodyError{"body does not match " + headerChecksum}
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Asked again: the upload may have been aborted, saved or swept meanwhile.
	if s.gate != nil {
		p, err := s.gate(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("diskstore: %w: %w", storage.ErrUnavailable, err)
		}
		if p.Until.IsZero() {
			return nil, errNotPending
		}
	}
	dir := s.uploadDir(uploadID)
	name := partName(number, sum)
	s.commit.Lock()
	defer s.commit.Unlock()
	// Into the folder only while it is still in uploads/: an aborted or
	// completed upload's folder has moved, and the rename fails.
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return sum, nil // the part is in; a stale twin is resolved by age
	}
	prefix := name[:6] // "00042."
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Name() != name {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return sum, nil
}
