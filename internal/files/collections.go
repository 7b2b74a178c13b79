package files

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"strings"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/images"
	"github.com/filegraph/filegraph/internal/storage"
)

// Collections are the upload profiles an operator defines (avatars,
// documents, ...): each upload names one, or is in DefaultCollection, which
// the global limits govern. A collection's rules only narrow the global
// ones (internal/config refuses a file that would widen them), and the
// per-user limits (quota, pending uploads) count across all collections.
// A public collection's objects live under storage.PublicPrefix, where
// anyone may read them at a URL that never changes.

// DefaultCollection is the collection of uploads that name none.
const DefaultCollection = "default"

// privatePrefix is where the objects of private collections live.
const privatePrefix = "files/"

// keyPrefixes are where every object Filegraph makes lives: reconcile
// lists them all.
var keyPrefixes = []string{privatePrefix, storage.PublicPrefix}

// heldPrefix is where a public collection's upload waits for the virus
// scan on a store that serves public keys to anyone (S3, through its
// bucket policy): under the private prefix, so nothing serves it, until
// the scan finds it clean and it is copied to its public key (scan.go). A
// held key is heldPrefix followed by that public key, so that each names
// the other and a file's row, holding one, knows both objects it may own.
const heldPrefix = privatePrefix + "held/"

// twinKey returns the other key a file at key may own an object at: the
// public key of a held key, the held key of a public one; "" for a
// private key, which has none.
func twinKey(key string) string {
	switch {
	case isHeld(key):
		return strings.TrimPrefix(key, heldPrefix)
	case strings.HasPrefix(key, storage.PublicPrefix):
		return heldPrefix + key
	}
	return ""
}

// isHeld says whether key is a held key.
func isHeld(key string) bool { return strings.HasPrefix(key, heldPrefix+storage.PublicPrefix) }

// objectKeys returns every key a file at key may own an object at: its
// own, and its twin (an interrupted release leaves both, for a moment).
func objectKeys(key string) []string {
	if t := twinKey(key); t != "" {
		return []string{key, t}
	}
	return []string{key}
}

// holds says whether an upload of size bytes to c waits under heldPrefix:
// c is public, the store can copy (the wiring passes a Copier only where
// the store, not Filegraph, serves public keys) and the file would not be
// served as soon as it is saved.
func (s *Service) holds(c *Collection, size int64) bool {
	if !c.Public || s.cfg.Copier == nil {
		return false
	}
	return s.servable(&ent.File{Status: s.savedStatus(size)}) != nil
}

// newKey makes the key of an upload of r to c: c's own, or, while the
// scan holds it, the held key of c's own.
func (s *Service) newKey(c *Collection, r UploadRequest) string {
	key := c.newKey(r.OriginalName)
	if s.holds(c, r.Size) {
		key = heldPrefix + key
	}
	return key
}

// Collection is one upload profile, with what it inherits filled in.
type Collection struct {
	Name string
	// AllowedContentTypes are media types or type/* patterns; empty
	// allows every type.
	AllowedContentTypes []string
	MaxFileSize         int64
	// MaxFilesPerRequest bounds the files of one call in this collection,
	// beside MaxFilesPerCall; nil for no bound of its own.
	MaxFilesPerRequest *int
	Public             bool
	// Variants are made of each image saved in the collection; the entry
	// of Options.Collections named DefaultCollection gives the default
	// collection's, and nothing else.
	Variants []images.Spec
}

// collections returns the default collection, then opts' own in their
// order, each with what it leaves out taken from the global limits.
func collections(opts Options) ([]*Collection, map[string]*Collection) {
	def := &Collection{Name: DefaultCollection, AllowedContentTypes: opts.Limits.AllowedContentTypes, MaxFileSize: opts.MaxUploadSize}
	list := []*Collection{def}
	byName := map[string]*Collection{DefaultCollection: def}
	for _, c := range opts.Collections {
		c := c
		if c.Name == DefaultCollection {
			def.Variants = c.Variants
			continue
		}
		if len(c.AllowedContentTypes) == 0 {
			c.AllowedContentTypes = def.AllowedContentTypes
		}
		if c.MaxFileSize <= 0 || c.MaxFileSize > def.MaxFileSize {
			c.MaxFileSize = def.MaxFileSize
		}
		list = append(list, &c)
		byName[c.Name] = &c
	}
	return list, byName
}

// Collections lists the collections, the default one first, for clients
// to check files against before they ask.
func (s *Service) Collections() []*Collection { return s.collections }

// collection returns the collection an upload names ("" is the default).
func (s *Service) collection(name string) (*Collection, bool) {
	if name == "" {
		name = DefaultCollection
	}
	c, ok := s.byName[name]
	return c, ok
}

// names lists the collections' names, for a message.
func (s *Service) names() string {
	out := make([]string, len(s.collections))
	for i, c := range s.collections {
		out[i] = c.Name
	}
	return strings.Join(out, ", ")
}

// check adds to ps what c's rules refuse of r (normalized, at
// files[i]), naming the file, the rule and the collection. The default
// collection's rules are the global settings, and say so.
func (c *Collection) check(ps *problems, field string, r *UploadRequest) {
	if r.Size > c.MaxFileSize {
		if c.Name == DefaultCollection {
			ps.add(field+".size", "%d bytes is over the limit of %d bytes by %d", r.Size, c.MaxFileSize, r.Size-c.MaxFileSize)
		} else {
			ps.addRule(field+".size", "maxFileSize", c.Name, "%q is %d bytes, over the maxFileSize of collection %q (%d bytes) by %d",
				r.OriginalName, r.Size, c.Name, c.MaxFileSize, r.Size-c.MaxFileSize)
		}
	}
	if r.ContentType != "" && !allowedType(r.ContentType, c.AllowedContentTypes) {
		if c.Name == DefaultCollection {
			ps.add(field+".contentType", "%q is not allowed; allowed are %s", r.ContentType, strings.Join(c.AllowedContentTypes, ", "))
		} else {
			ps.addRule(field+".contentType", "allowedContentTypes", c.Name, "%q is %s, which collection %q does not allow (allowedContentTypes: %s)",
				r.OriginalName, r.ContentType, c.Name, strings.Join(c.AllowedContentTypes, ", "))
		}
	}
}

// checkCollections resolves the collection each of reqs names and checks
// them against it: an unknown name, and more files in one collection than
// its maxFilesPerRequest, are refused too. It returns the collection of
// each request.
func (s *Service) checkCollections(ps *problems, reqs []UploadRequest) []*Collection {
	out := make([]*Collection, len(reqs))
	counts := map[*Collection]int{}
	for i := range reqs {
		r := &reqs[i]
		field := fmt.Sprintf("files[%d]", i)
		c, ok := s.collection(r.Collection)
		if !ok {
			ps.addRule(field+".collection", "collection", r.Collection, "%q names collection %q, which does not exist; the collections are %s",
				r.OriginalName, r.Collection, s.names())
			continue
		}
		out[i] = c
		counts[c]++
		c.check(ps, field, r)
	}
	for _, c := range s.collections { // in order, so messages are stable
		if n := counts[c]; c.MaxFilesPerRequest != nil && n > *c.MaxFilesPerRequest {
			ps.addRule("files", "maxFilesPerRequest", c.Name, "%d files are in collection %q, which takes at most %d in one request",
				n, c.Name, *c.MaxFilesPerRequest)
		}
	}
	return out
}

// newKey makes an object key for a file called name in c: a random 128-bit
// id (never the client's name, so equal names never collide and keys
// reveal nothing) plus the name's extension when it is short and plain,
// which keeps the bucket readable for operators. A public collection's keys
// are under storage.PublicPrefix and its name, so that one bucket policy
// (or one CDN path) covers them, and a key alone says whose rules made it.
func (c *Collection) newKey(name string) string {
	if c.Public {
		return storage.PublicPrefix + c.Name + "/" + randomName(name)
	}
	return privatePrefix + randomName(name)
}

// NewKey makes a key for a file called name in the default collection.
func NewKey(name string) string { return privatePrefix + randomName(name) }

func randomName(name string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:]) + safeExt(name)
}

// PublicURL returns f's stable, unsigned URL, or nil for a private file,
// and for one the scan gate holds (servable). What the key says decides,
// not the collection's current settings: a bucket policy on the prefix,
// not Filegraph, lets the object be read.
func (s *Service) PublicURL(f *ent.File) *string {
	if !strings.HasPrefix(f.FileName, storage.PublicPrefix) || f.Bucket != s.store.Bucket() || s.servable(f) != nil {
		return nil
	}
	u := s.store.PublicURL(f.FileName)
	if u == "" {
		return nil
	}
	return &u
}
