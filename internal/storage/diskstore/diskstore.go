// Package diskstore keeps objects in a local folder and serves them at its
// own presigned URLs, so that Filegraph runs with no object store at all and
// clients follow exactly the flow they would with S3: PUT the bytes to the
// URL with the returned headers, GET the download URL.
//
// A URL carries its expiry and an HMAC-SHA256 over the method, key, expiry
// and what the request is bound to (length, type and checksum for a PUT; the
// response headers for a GET). The handler recomputes the MAC from the
// request as sent, so a changed length, type, key or expiry is refused with
// 403 before a byte is stored.
//
// An upload streams into a temporary file in the same folder tree and is
// renamed into place only when the whole body has arrived with the signed
// length (and checksum), so no half-written object is ever visible. Like the
// S3 backend's URLs, a PUT URL carries If-None-Match: * and writes once: a
// key that holds an object is refused with 412. Each
// object has a small JSON sidecar with its type and checksum; the object is
// written last, so an object that exists always has its sidecar.
//
// Errors are classified as S3's are (see classify): a folder the server may
// not use (permissions, read-only, not a folder) is
// storage.ErrMisconfigured; other failures, and a store folder that has
// vanished as an unmounted volume's does, are storage.ErrUnavailable. A
// vanished folder is never taken for missing objects, which reconcile would
// otherwise "repair" by deleting rows.
//
// This backend is for one machine: development, tests, small installs. To
// scale out behind a load balancer, use S3.
package diskstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
)

// Bucket is the bucket name recorded for files kept on disk.
const Bucket = "local"

// Store is a storage.Store on the local file system.
type Store struct {
	root    string // holds objects/, meta/, uploads/ and tmp/
	baseURL *url.URL
	key     []byte
	now     func() time.Time
	minFree int64    // below this many free bytes, Ping says unavailable
	tmp     string   // this store's own folder in tmp/ (see tmp.go)
	tmpLock *os.File // held open: its lock marks tmp as live
	// commit serialises the last step of a PUT (is the key free? sidecar,
	// rename), so two PUTs of one key cannot both succeed.
	commit sync.Mutex

	gate storage.Gate // nil: a PUT may run until its URL's expiry + putGrace
	// publicGate says whether a public key may be served (nil: all).
	publicGate func(ctx context.Context, key string) (bool, error)
	limits     Limits
	mu         sync.Mutex
	inFlight   map[string]bool // slots a PUT is streaming to (see admit)
	perUser    map[string]int  // PUTs in flight by upload owner
}

// Every ability a store has, and those only this backend has: it serves
// its own URLs, can revoke them, and cleans what dead processes left.
var (
	_ storage.Store        = (*Store)(nil)
	_ storage.URLServer    = (*Store)(nil)
	_ storage.PutGate      = (*Store)(nil)
	_ storage.StaleCleaner = (*Store)(nil)
)

// Option changes a Store.
type Option func(*Store)

// MinFree makes Ping report the store unavailable (out of space) while the
// file system has fewer than n bytes free, so that readiness and
// createUploadUrls see a disk that is about to fill.
func MinFree(n int64) Option { return func(s *Store) { s.minFree = n } }

// New returns a store rooted at dir whose presigned URLs start with baseURL
// (where Handler is mounted) and are signed with key. It removes what
// processes that are gone left in its temporary folder.
func New(dir string, baseURL string, key []byte, opts ...Option) (*Store, error) {
	if len(key) < 32 {
		return nil, errors.New("diskstore: signing key must be at least 32 bytes")
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("diskstore: base URL %q must be an absolute http(s) URL", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	for _, sub := range []string{"objects", "meta", "tmp", "uploads"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("diskstore: %w", err)
		}
	}
	s := &Store{root: dir, baseURL: u, key: key, now: time.Now, inFlight: map[string]bool{}, perUser: map[string]int{}}
	for _, opt := range opts {
		opt(s)
	}
	if err := s.openTmp(); err != nil {
		return nil, fmt.Errorf("diskstore: %w", err)
	}
	if _, err := s.CleanStale(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadOrCreateKey returns the signing key kept in dir, making one on first
// use, so URLs stay valid across restarts.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "signing.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("diskstore: %s is not a hex key of 32 bytes or more", path)
		}
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("diskstore: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("diskstore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("diskstore: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("diskstore: %w", err)
	}
	return key, nil
}

// SetPublicGate implements storage.PublicGate; call it before serving.
func (s *Store) SetPublicGate(gate func(ctx context.Context, key string) (bool, error)) {
	s.publicGate = gate
}

// SetPutGate implements storage.PutGate; call it before serving.
func (s *Store) SetPutGate(gate storage.Gate) { s.gate = gate }

// Bucket implements storage.Store.
func (s *Store) Bucket() string { return Bucket }

// MaxPutSize implements storage.Store: one PUT streams to a file, of any
// size.
func (s *Store) MaxPutSize() int64 { return 0 }

// PresignPut implements storage.Store.
func (s *Store) PresignPut(_ context.Context, key string, opts storage.PutOptions) (storage.Request, error) {
	if err := checkKey(key); err != nil {
		return storage.Request{}, err
	}
	exp := s.now().Add(opts.TTL).Truncate(time.Second)
	q := url.Values{}
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSignature, s.sign(putClaims(key, exp.Unix(), opts.Size, opts.ContentType, opts.ChecksumSHA256, "*")))
	h := []storage.Header{
		{Name: "Content-Length", Value: strconv.FormatInt(opts.Size, 10)},
		{Name: "Content-Type", Value: opts.ContentType},
		{Name: "If-None-Match", Value: "*"},
	}
	if opts.ChecksumSHA256 != "" {
		h = append(h, storage.Header{Name: headerChecksum, Value: opts.ChecksumSHA256})
	}
	return storage.Request{Method: "PUT", URL: s.url(key, q), Header: h, ExpiresAt: exp}, nil
}

// PresignGet implements storage.Store.
func (s *Store) PresignGet(_ context.Context, key string, opts storage.GetOptions) (storage.Request, error) {
	if err := checkKey(key); err != nil {
		return storage.Request{}, err
	}
	exp := s.now().Add(opts.TTL).Truncate(time.Second)
	disp := storage.ContentDisposition(opts.FileName)
	q := url.Values{}
	q.Set(paramDisposition, disp)
	q.Set(paramType, opts.ContentType)
	q.Set(paramExpires, strconv.FormatInt(exp.Unix(), 10))
	q.Set(paramSignature, s.sign(getClaims(key, exp.Unix(), disp, opts.ContentType)))
	return storage.Request{Method: "GET", URL: s.url(key, q), Header: []storage.Header{}, ExpiresAt: exp}, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(_ context.Context, key string) (storage.Object, error) {
	if err := checkKey(key); err != nil {
		return storage.Object{}, err
	}
	fi, err := os.Stat(s.objectPath(key))
	if err != nil {
		return storage.Object{}, s.classify("stat "+key, err)
	}
	m, err := s.readMeta(key)
	if err != nil {
		return storage.Object{}, err
	}
	return storage.Object{Size: fi.Size(), ContentType: m.ContentType, ChecksumSHA256: m.ChecksumSHA256}, nil
}

// Open implements storage.Store.
func (s *Store) Open(_ context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.objectPath(key))
	if err != nil {
		return nil, s.classify("open "+key, err)
	}
	return f, nil
}

// Put implements storage.Store: written as an upload is, durable before it
// is visible, but replacing what is there and asking no gate (no upload is
// pending for it).
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := s.writeObject(ctx, key, bytes.NewReader(data), int64(len(data)), contentType, "", false); err != nil {
		return s.classify("put "+key, err)
	}
	return nil
}

// Delete implements storage.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	// The object goes first: a sidecar without an object is invisible.
	for _, p := range []string{s.objectPath(key), s.metaPath(key)} {
		if err := os.Remove(p); err != nil {
			if err := s.classify("delete "+key, err); !errors.Is(err, storage.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// Ping implements storage.Store: the folder takes a file, and has the
// free space MinFree asks for.
func (s *Store) Ping(context.Context) error {
	if _, err := os.ReadDir(filepath.Join(s.root, "objects")); err != nil {
		return s.classify("ping", err)
	}
	f, err := os.CreateTemp(s.tmpDir(), "ping-*")
	if err != nil {
		return s.classify("ping", err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return s.classify("ping", err)
	}
	if s.minFree > 0 {
		if free, err := freeSpace(s.root); err == nil && free < s.minFree {
			return fmt.Errorf("diskstore: %d bytes free, fewer than %d: %w", free, s.minFree, storage.ErrInsufficientStorage)
		}
	}
	return nil
}

// classify sorts a file-system error into the classes of package storage.
// A missing file is ErrNotExist only while the store's folders are there.
func (s *Store) classify(op string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, rootErr := os.Stat(filepath.Join(s.root, "objects")); rootErr != nil {
			if !errors.Is(rootErr, fs.ErrNotExist) {
				return s.classify(op, rootErr)
			}
			return fmt.Errorf("diskstore: %s: %w: the storage folder %s is gone (an unmounted volume?)", op, storage.ErrUnavailable, s.root)
		}
		return fmt.Errorf("diskstore: %s: %w", op, storage.ErrNotExist)
	case outOfSpace(err):
		return fmt.Errorf("diskstore: %s: %w: %w", op, storage.ErrInsufficientStorage, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("diskstore: %s: %w: the storage folder %s cannot be used: %w", op, storage.ErrMisconfigured, s.root, err)
	}
	return fmt.Errorf("diskstore: %s: %w: %w", op, storage.ErrUnavailable, err)
}

// classifyFolder is classify for making and listing the store's own
// folders, where a missing folder is never a missing object: the store is
// broken, and the call may work once it is mended.
func (s *Store) classifyFolder(op string, err error) error {
	if c := s.classify(op, err); !errors.Is(c, storage.ErrNotExist) {
		return c
	}
	return fmt.Errorf("diskstore: %s: %w: %w", op, storage.ErrUnavailable, err)
}

const (
	paramExpires     = "X-Expires"
	paramSignature   = "X-Signature"
	paramDisposition = "response-content-disposition"
	paramType        = "response-content-type"
	// The same header S3 uses, so clients send the same thing to both.
	headerChecksum = "x-amz-checksum-sha256"
)

func (s *Store) url(key string, q url.Values) string {
	u := *s.baseURL
	u.Path += key
	u.RawQuery = q.Encode()
	return u.String()
}

func putClaims(key string, exp, size int64, contentType, checksum, ifNoneMatch string) string {
	return strings.Join([]string{"PUT", key, strconv.FormatInt(exp, 10), strconv.FormatInt(size, 10), contentType, checksum, ifNoneMatch}, "\n")
}

func getClaims(key string, exp int64, disposition, contentType string) string {
	return strings.Join([]string{"GET", key, strconv.FormatInt(exp, 10), disposition, contentType}, "\n")
}

func (s *Store) sign(claims string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(claims))
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks sig against claims in constant time.
func (s *Store) verify(claims, sig string) bool {
	want, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(claims))
	return hmac.Equal(m.Sum(nil), want)
}

// List implements storage.Lister by walking the objects folder; sidecars
// and uploads in progress live elsewhere and are never listed.
func (s *Store) List(ctx context.Context, prefix string, fn func(string) error) error {
	root := filepath.Join(s.root, "objects")
	var fnErr error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walked
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			if fnErr = fn(key); fnErr != nil {
				return fs.SkipAll
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return fnErr
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("diskstore: list: %w: %w", storage.ErrUnavailable, err)
	case err != nil:
		return s.classify("list", err)
	}
	return nil
}

// checkKey refuses keys that could name anything outside the objects folder
// or that the server would never make.
func checkKey(key string) error {
	if key == "" || len(key) > 1024 || !filepath.IsLocal(key) || strings.HasPrefix(key, "/") {
		return fmt.Errorf("diskstore: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("diskstore: invalid key %q", key)
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_./", c) >= 0) {
			return fmt.Errorf("diskstore: invalid key %q", key)
		}
	}
	return nil
}

func (s *Store) objectPath(key string) string {
	return filepath.Join(s.root, "objects", filepath.FromSlash(key))
}

func (s *Store) metaPath(key string) string {
	return filepath.Join(s.root, "meta", filepath.FromSlash(key)+".json")
}

type meta struct {
	ContentType    string `json:"contentType"`
	ChecksumSHA256 string `json:"checksumSHA256"`
	ETag           string `json:"etag"`
}

func (s *Store) readMeta(key string) (meta, error) {
	var m meta
	b, err := os.ReadFile(s.metaPath(key))
	if err != nil {
		return m, s.classify("metadata of "+key, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("diskstore: metadata of %s: %w", key, err)
	}
	return m, nil
}
