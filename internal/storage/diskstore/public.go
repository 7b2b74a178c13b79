package diskstore

import (
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

// Public objects: keys under storage.PublicPrefix are served to anyone, at
// a URL that never changes and carries no signature, as a bucket policy
// that grants reads on that prefix does on S3. A signed URL for such a key
// (a download under the original name) still works as for any other key.

// PublicURL returns the unsigned URL of key, which is under
// storage.PublicPrefix.
func (s *Store) PublicURL(key string) string {
	u := *s.baseURL
	u.Path += key
	return u.String()
}

// isPublicGet reports whether r reads a public object without a signature.
func isPublicGet(r *http.Request, key string) bool {
	return strings.HasPrefix(key, storage.PublicPrefix) && !r.URL.Query().Has(paramSignature)
}

// getPublic serves a public object inline, as the type it was uploaded
// with. The key is random and an object is never replaced, so caches may
// keep it for a year; the bytes are still the uploader's, served from the
// API's origin, so they are never sniffed and run nothing (sandbox).
func (s *Store) getPublic(w http.ResponseWriter, r *http.Request, key string) {
	if s.publicGate != nil {
		ok, err := s.publicGate(r.Context(), key)
		if err != nil {
			busy(w, r, err, "key", key)
			return
		}
		if !ok {
			// Not yet, or never (a scan holds it, or found it infected):
			// caches must not keep the answer.
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "no such object", http.StatusNotFound)
			return
		}
	}
	m, err := s.readMeta(key)
	if err != nil {
		if exhausted(err) {
			busy(w, r, err, "key", key)
			return
		}
		http.Error(w, "no such object", http.StatusNotFound)
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
		storeFailed(w, r, "diskstore.get_failed", err, "key", key)
		return
	}
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", m.ContentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("ETag", m.ETag)
	if strings.Contains(r.Header.Get("Range"), ",") {
		r.Header.Del("Range") // several ranges: the whole object, as get does
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
