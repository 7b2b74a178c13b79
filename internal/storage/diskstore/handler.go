package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/filegraph/filegraph/internal/httplog"
	"github.com/filegraph/filegraph/internal/storage"
)

// Handler serves the presigned URLs; mount it at the base URL's path with
// that prefix stripped.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		if checkKey(key) != nil {
			http.Error(w, "invalid key", http.StatusBadRequest)
			return
		}
		switch r.Method {
		case http.MethodPut:
			if r.URL.Query().Has(paramUploadID) {
				s.putPart(w, r, key)
				return
			}
			s.put(w, r, key)
		case http.MethodGet, http.MethodHead:
			if isPublicGet(r, key) {
				s.getPublic(w, r, key)
				return
			}
			s.get(w, r, key)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// expired reports whether the URL's expiry is missing or past.
func (s *Store) expired(r *http.Request) (int64, bool) {
	exp, err := strconv.ParseInt(r.URL.Query().Get(paramExpires), 10, 64)
	return exp, err != nil || s.now().Unix() > exp
}

func (s *Store) put(w http.ResponseWriter, r *http.Request, key string) {
	exp, expired := s.expired(r)
	if expired {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "Content-Length is required", http.StatusLengthRequired)
		return
	}
	checksum := r.Header.Get(headerChecksum)
	claims := putClaims(key, exp, r.ContentLength, r.Header.Get("Content-Type"), checksum, r.Header.Get("If-None-Match"))
	if !s.verify(claims, r.URL.Query().Get(paramSignature)) {
		http.Error(w, "signature does not match the request", http.StatusForbidden)
		return
	}
	deadline, release, refused := s.admit(r.Context(), key, key, exp)
	if refused != nil {
		refuse(w, refused)
		return
	}
	defer release()
	etag, err := s.write(r.Context(), key, s.body(w, r, deadline), r.ContentLength, r.Header.Get("Content-Type"), checksum)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			http.Error(w, "an object already exists at this key", http.StatusPreconditionFailed)
			return
		}
		writeFailed(w, r, err, "diskstore.put_failed", "key", key)
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

// writeFailed answers a PUT (whole object or part) whose body could not be
// stored; event names the log record of a failure that is the server's.
func writeFailed(w http.ResponseWriter, r *http.Request, err error, event string, attrs ...any) {
	var bad *badBodyError
	switch {
	case errors.Is(err, errDeadline), errors.Is(err, errIdle):
		http.Error(w, err.Error(), http.StatusRequestTimeout)
	case errors.As(err, &bad):
		http.Error(w, bad.Error(), http.StatusBadRequest)
	case errors.Is(err, errNotPending):
		http.Error(w, errNotPending.Error(), http.StatusForbidden)
	case exhausted(err):
		busy(w, r, err, attrs...)
	case errors.Is(err, storage.ErrUnavailable):
		httplog.FromContext(r.Context()).WarnContext(r.Context(), "diskstore.gate_failed", append(attrs, "err", err)...)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "could not check the upload; retry", http.StatusServiceUnavailable)
	default:
		storeFailed(w, r, event, err, attrs...)
	}
}

type badBodyError struct{ msg string }

func (e *badBodyError) Error() string { return e.msg }

// putGrace is how long after its URL's expiry a PUT may still run when no
// gate is set (the store on its own, as in its conformance tests).
const putGrace = 15 * time.Minute

var (
	errNotPending = errors.New("the upload is no longer pending: it was saved, deleted or has expired")
	errDeadline   = errors.New("the body did not arrive before the upload's deadline")
)

// write streams body to a temporary file and renames it into place only if
// it has exactly size bytes and, when given, the announced checksum.
func (s *Store) write(ctx context.Context, key string, body io.Reader, size int64, contentType, checksum string) (etag string, err error) {
	return s.writeObject(ctx, key, body, size, contentType, checksum, true)
}

// writeObject is write; an upload (upload) asks the gate and never replaces
// an object, a Put does neither.
func (s *Store) writeObject(ctx context.Context, key string, body io.Reader, size int64, contentType, checksum string, upload bool) (etag string, err error) {
	body, err = awaitBody(body)
	if err != nil {
		return "", bodyError(err)
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "put-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	// Straight to disk: nothing reads the object back soon.
	n, readErr, err := copyHashed(newFileWriter(tmp, true), h, io.LimitReader(body, size+1))
	if err != nil {
		return "", err
	}
	if readErr != nil {
		return "", bodyError(readErr)
	}
	if n != size {
		return "", &badBodyError{fmt.Sprintf("body has %d bytes, signed length is %d", n, size)}
	}
	sum := h.Sum(nil)
	got := base64.StdEncoding.EncodeToString(sum)
	if checksum != "" && got != checksum {
		return "", &badBodyError{"body does not match " + headerChecksum}
	}
	// On disk before it is visible: a crash must not leave a short object.
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	m, _ := json.Marshal(meta{ContentType: contentType, ChecksumSHA256: got, ETag: etag})
	// Asked again: the upload may have been deleted or swept meanwhile.
	if s.gate != nil && upload {
		p, err := s.gate(ctx, key)
		if err != nil {
			return "", fmt.Errorf("diskstore: %w: %w", storage.ErrUnavailable, err)
		}
		if p.Until.IsZero() {
			return "", errNotPending
		}
	}
	obj := s.objectPath(key)
	s.commit.Lock()
	defer s.commit.Unlock()
	if _, err := os.Lstat(obj); err == nil && upload {
		return "", fs.ErrExist
	}
	if err := writeFileAtomic(s.metaPath(key), m, s.tmpDir()); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(obj), 0o750); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), obj); err != nil {
		return "", err
	}
	return etag, nil
}

func writeFileAtomic(path string, data []byte, tmpDir string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, "meta-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

func (s *Store) get(w http.ResponseWriter, r *http.Request, key string) {
	exp, expired := s.expired(r)
	if expired {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	disp, typ := q.Get(paramDisposition), q.Get(paramType)
	if !s.verify(getClaims(key, exp, disp, typ), q.Get(paramSignature)) {
		http.Error(w, "signature does not match the request", http.StatusForbidden)
		return
	}
	f, err := os.Open(s.objectPath(key))
	switch {
	case exhausted(err):
		busy(w, r, err, "key", key)
		return
	case err != nil:
		http.Error(w, "no such object", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		httplog.FromContext(r.Context()).ErrorContext(r.Context(), "diskstore.get_failed", "key", key, "err", err)
		http.Error(w, "could not read the object", http.StatusInternalServerError)
		return
	}
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", disp)
	w.Header().Set("Cache-Control", "private, max-age=0")
	// The bytes are the uploader's and served from the API's origin: no
	// sniffing them into HTML, and no script or plugin may run even if
	// the attachment disposition were lost.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	if m, err := s.readMeta(key); err == nil {
		w.Header().Set("ETag", m.ETag)
	}
	// Several ranges get the whole object, as on S3: as multipart parts
	// they answered many times the request (60,000 one-byte ranges: 729 KB
	// asked, 9.1 MB answered). One range is served as asked.
	if strings.Contains(r.Header.Get("Range"), ",") {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
