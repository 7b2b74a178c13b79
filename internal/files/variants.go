package files

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/images"
	"github.com/filegraph/filegraph/internal/storage"
)

// Image variants: a READY image of a collection with variants gets a
// variants job (jobsFor, or the scan's release), which stores each variant
// as an object of its own at a fixed key beside the file's and records them
// (file_variants) with their bytes in the owner's usage, in one transaction
// with file.variants_ready. A file lists its variants only while it is
// servable; one not made yet is simply absent.

// EventVariantsReady is written when a file's variants are stored.
const EventVariantsReady = "file.variants_ready"

// Variant is one variant of a file as the API shows it, with a link: signed
// like a download for a private file, its stable public URL for a public one.
type Variant struct {
	Name          string
	Width, Height int
	ContentType   string
	Size          int64
	URL           string
}

// VariantNotReadyError answers a download of a variant the file's
// collection configures but that the file does not have: not made yet
// (Pending, its job is due), or never to be (not an image, or one that
// could not be decoded).
type VariantNotReadyError struct {
	Variant string
	Pending bool
}

func (e *VariantNotReadyError) Error() string {
	if e.Pending {
		return fmt.Sprintf("variant %q is not made yet: try again shortly", e.Variant)
	}
	return fmt.Sprintf("the file has no variant %q: it is not an image that could be decoded", e.Variant)
}

// variantLoads is one request's loads of variants: the files a request was
// given (a page, a batch of references) are noted as they are read, and the
// first variants asked for load those of all noted files in one query.
type variantLoads struct {
	mu      sync.Mutex
	pending map[uuid.UUID]struct{}
	loaded  map[uuid.UUID][]*ent.FileVariant
}

type variantLoadsKey struct{}

// WithVariantLoads returns ctx carrying a request's loads of variants: the
// API gives each query and mutation one, so that a page's variants are one
// query. Not for a subscription's whole life, which would keep stale rows.
func WithVariantLoads(ctx context.Context) context.Context {
	return context.WithValue(ctx, variantLoadsKey{}, &variantLoads{pending: map[uuid.UUID]struct{}{}, loaded: map[uuid.UUID][]*ent.FileVariant{}})
}

// noteFiles tells the request's loads of variants of files it was given.
// Only servable files list variants.
func (s *Service) noteFiles(ctx context.Context, fs ...*ent.File) {
	l, _ := ctx.Value(variantLoadsKey{}).(*variantLoads)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range fs {
		if f == nil || s.servable(f) != nil {
			continue
		}
		if _, ok := l.loaded[f.ID]; !ok {
			l.pending[f.ID] = struct{}{}
		}
	}
}

// variantRows returns f's variants' rows, loading those of every file the
// request noted and has not loaded yet with them.
func (s *Service) variantRows(ctx context.Context, f *ent.File) ([]*ent.FileVariant, error) {
	l, _ := ctx.Value(variantLoadsKey{}).(*variantLoads)
	if l == nil {
		rows, err := s.db.FileVariant.Query().Where(filevariant.FileID(f.ID)).Order(ent.Asc(filevariant.FieldID)).All(ctx)
		if err != nil {
			return nil, dbError("reading variants", err)
		}
		return rows, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if rows, ok := l.loaded[f.ID]; ok {
		return rows, nil
	}
	l.pending[f.ID] = struct{}{}
	ids := make([]uuid.UUID, 0, len(l.pending))
	for id := range l.pending {
		ids = append(ids, id)
	}
	rows, err := s.db.FileVariant.Query().Where(filevariant.FileIDIn(ids...)).Order(ent.Asc(filevariant.FieldID)).All(ctx)
	if err != nil {
		return nil, dbError("reading variants", err)
	}
	for _, id := range ids {
		l.loaded[id] = nil
		delete(l.pending, id)
	}
	for _, r := range rows {
		l.loaded[r.FileID] = append(l.loaded[r.FileID], r)
	}
	return l.loaded[f.ID], nil
}

// Variants returns f's variants with their links (f was given to the caller
// by Get, List or Files, which checked they may see it); none until f is
// servable.
func (s *Service) Variants(ctx context.Context, f *ent.File) ([]*Variant, error) {
	if s.servable(f) != nil {
		return []*Variant{}, nil
	}
	rows, err := s.variantRows(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*Variant, 0, len(rows))
	for _, r := range rows {
		u, err := s.variantURL(ctx, f, r)
		if err != nil {
			return nil, err
		}
		out = append(out, &Variant{Name: r.Name, Width: r.Width, Height: r.Height, ContentType: r.ContentType, Size: r.Size, URL: u})
	}
	return out, nil
}

// variantURL is v's public URL for a public file, or a presigned GET that
// downloads it as name-variant.ext.
func (s *Service) variantURL(ctx context.Context, f *ent.File, v *ent.FileVariant) (string, error) {
	if strings.HasPrefix(v.FileName, storage.PublicPrefix) {
		if u := s.store.PublicURL(v.FileName); u != "" {
			return u, nil
		}
	}
	req, err := s.store.PresignGet(ctx, v.FileName, s.variantGet(f, v))
	if err != nil {
		return "", storageError("presigning variant download", err)
	}
	return req.URL, nil
}

// variantGet is how v downloads: as name-variant.ext, of its own type.
func (s *Service) variantGet(f *ent.File, v *ent.FileVariant) storage.GetOptions {
	return storage.GetOptions{
		FileName:    variantFileName(f.OriginalName, v.Name, v.FileName),
		ContentType: v.ContentType,
		TTL:         s.cfg.DownloadURLTTL,
	}
}

// variantFileName is the name a variant downloads as: photo.heic's thumb
// in JPEG is photo-thumb.jpg.
func variantFileName(original, name, key string) string {
	base := strings.TrimSuffix(original, path.Ext(original))
	return base + "-" + name + path.Ext(key)
}

// variantDownloadURL returns a presigned GET of f's variant name, as
// fileDownloadUrl gives for the file itself. A name the
// file's collection does not configure is bad input; one it does that the
// file lacks is a *VariantNotReadyError.
func (s *Service) variantDownloadURL(ctx context.Context, f *ent.File, name string) (*storage.Request, error) {
	if err := s.servable(f); err != nil {
		return nil, err
	}
	v, err := s.db.FileVariant.Query().Where(filevariant.FileID(f.ID), filevariant.Name(name)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		c := s.byName[f.Collection]
		if c == nil || !slices.ContainsFunc(c.Variants, func(sp images.Spec) bool { return sp.Name == name }) {
			var names []string
			if c != nil {
				for _, sp := range c.Variants {
					names = append(names, sp.Name)
				}
			}
			return nil, &InvalidError{Problems: []Problem{{Field: "variant", Message: unknownVariant(name, f.Collection, names)}}}
		}
		pending, err := s.db.Job.Query().Where(job.FileID(f.ID), job.KindEQ(job.KindVariants)).Exist(ctx)
		if err != nil {
			return nil, dbError("reading jobs", err)
		}
		return nil, &VariantNotReadyError{Variant: name, Pending: pending}
	case err != nil:
		return nil, dbError("reading variant", err)
	}
	req, err := s.store.PresignGet(ctx, v.FileName, s.variantGet(f, v))
	if err != nil {
		return nil, storageError("presigning variant download", err)
	}
	return &req, nil
}

func unknownVariant(name, collection string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("no variant %q: collection %s has no variants", name, collection)
	}
	return fmt.Sprintf("no variant %q in collection %s (it has %s)", name, collection, strings.Join(names, ", "))
}
