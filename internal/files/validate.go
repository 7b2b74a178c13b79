package files

import (
	"encoding/base64"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filegraph/filegraph/ent/schema"
)

const (
	// MaxFilesPerCall bounds createUploadUrls and saveFiles.
	MaxFilesPerCall = 100
	// MaxNameBytes bounds an original name, as most file systems do.
	MaxNameBytes = 255
	// MaxPageSize bounds first and last on the files connection.
	MaxPageSize = 100
	// MaxContentTypeBytes bounds a content type: RFC 6838 §4.2 allows 127
	// characters for each of type and subtype.
	MaxContentTypeBytes = 255
	// DefaultContentType is used when the client names none.
	DefaultContentType = "application/octet-stream"
)

// UploadRequest is what a client announces about one file.
type UploadRequest struct {
	OriginalName   string
	Size           int64
	ContentType    string          // optional
	ChecksumSHA256 string          // optional, base64
	Folder         string          // optional: "" is the root
	Metadata       schema.Metadata // optional
	Collection     string          // optional: DefaultCollection
}

// checkName reports what is wrong with an original name, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxNameBytes:
		return fmt.Sprintf("is %d bytes long, at most %d are allowed", len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case strings.IndexFunc(name, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0:
		// Bidi overrides and zero-width characters make a name show as
		// another: "invoice\u202Efdp.exe" reads "invoiceexe.pdf".
		return "must not contain invisible format characters (such as U+202E, U+200B or U+FEFF)"
	}
	return ""
}

// normalizeContentType returns the canonical form of a media type, which is
// the exact value the upload will be signed with.
func normalizeContentType(ct string) (string, bool) {
	if strings.TrimSpace(ct) == "" {
		return DefaultContentType, true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" || strings.Contains(mt, "*") {
		return "", false
	}
	out := mime.FormatMediaType(mt, params)
	return out, out != ""
}

// allowedType reports whether the media type ct (parameters aside) matches
// one of allowed: an exact type or a type/* pattern. Empty allows all.
func allowedType(ct string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	typ, _, _ := strings.Cut(mt, "/")
	for _, a := range allowed {
		if a == mt || a == "*/*" || (strings.HasSuffix(a, "/*") && strings.TrimSuffix(a, "/*") == typ) {
			return true
		}
	}
	return false
}

// validChecksum reports whether s is a base64 SHA-256 digest.
func validChecksum(s string) bool {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}

// checkCount bounds how many files one call may name.
func checkCount(n int) error {
	var ps problems
	switch {
	case n == 0:
		ps.add("files", "must list at least one file")
	case n > MaxFilesPerCall:
		ps.add("files", "lists %d files, at most %d are allowed in one call", n, MaxFilesPerCall)
	}
	return ps.err()
}

// validateUploads checks every request and returns them normalized.
func (s *Service) validateUploads(reqs []*UploadRequest) ([]UploadRequest, error) {
	if err := checkCount(len(reqs)); err != nil {
		return nil, err
	}
	var ps problems
	out := make([]UploadRequest, len(reqs))
	for i, r := range reqs {
		field := fmt.Sprintf("files[%d]", i)
		if r == nil {
			ps.add(field, "must not be null")
			continue
		}
		if msg := checkName(r.OriginalName); msg != "" {
			ps.add(field+".originalName", "%s", msg)
		}
		if r.Size < 1 {
			ps.add(field+".size", "must be at least 1 byte, got %d", r.Size)
		}
		var ct string
		ok := len(r.ContentType) <= MaxContentTypeBytes
		if ok {
			ct, ok = normalizeContentType(r.ContentType)
		}
		switch {
		case !ok && len(r.ContentType) > MaxContentTypeBytes:
			ps.add(field+".contentType", "is %d bytes long, at most %d are allowed", len(r.ContentType), MaxContentTypeBytes)
		case ok && len(ct) > MaxContentTypeBytes: // normalizing can lengthen it
			ps.add(field+".contentType", "is %d bytes long once normalized, at most %d are allowed", len(ct), MaxContentTypeBytes)
		case !ok:
			ps.add(field+".contentType", "%q is not a media type such as image/png", r.ContentType)
			ct = "" // nothing for the collection's rules to check
		}
		if r.ChecksumSHA256 != "" && !validChecksum(r.ChecksumSHA256) {
			ps.add(field+".checksumSHA256", "must be the base64 encoding of a 32-byte SHA-256 digest")
		}
		folder, msg := normalizeFolder(r.Folder)
		if msg != "" {
			ps.add(field+".folder", "%s", msg)
		}
		ps.checkMetadata(field+".metadata", r.Metadata)
		meta := r.Metadata
		if meta == nil {
			meta = schema.Metadata{}
		}
		out[i] = UploadRequest{OriginalName: r.OriginalName, Size: r.Size, ContentType: ct, ChecksumSHA256: r.ChecksumSHA256, Folder: folder, Metadata: meta, Collection: r.Collection}
	}
	// The collection's rules (the global ones for the default collection):
	// size, type, and how many files of it one call may name.
	for i, c := range s.checkCollections(&ps, out) {
		if c != nil {
			out[i].Collection = c.Name
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func safeExt(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if len(ext) < 2 || len(ext) > 11 {
		return ""
	}
	for _, c := range ext[1:] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return ""
		}
	}
	return ext
}
