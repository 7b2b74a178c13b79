package files

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
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
	return context.WithValue(ctx, variantLoadsKey{}, &variantLoads{})
}

// init makes l's maps on their first use (l.mu held): most operations
// (a download, a save) list no variants, and paid two maps each.
func (l *variantLoads) init() {
	if l.pending == nil {
		l.pending, l.loaded = map[uuid.UUID]struct{}{}, map[uuid.UUID][]*ent.FileVariant{}
	}
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
	l.init()
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
		byFile, err := variantsByFile(ctx, s.db.FileVariant, []uuid.UUID{f.ID})
		return byFile[f.ID], err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	if rows, ok := l.loaded[f.ID]; ok {
		return rows, nil
	}
	l.pending[f.ID] = struct{}{}
	ids := make([]uuid.UUID, 0, len(l.pending))
	for id := range l.pending {
		ids = append(ids, id)
	}
	byFile, err := variantsByFile(ctx, s.db.FileVariant, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		l.loaded[id] = byFile[id]
		delete(l.pending, id)
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

// variantSources are the content types variants are made of.
var variantSources = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// wantsVariants says whether f, saved or released as it is, needs a
// variants job: a READY image of a collection with variants.
func (s *Service) wantsVariants(f *ent.File) bool {
	c := s.byName[f.Collection]
	if f.Status != file.StatusREADY || c == nil || len(c.Variants) == 0 {
		return false
	}
	ct, _, _ := strings.Cut(strings.ToLower(f.ContentType), ";")
	return slices.Contains(variantSources, strings.TrimSpace(ct))
}

// variantsJob is f's variants job, due now, in tx.
func (s *Service) variantsJob(tx *ent.Tx, f *ent.File) *ent.JobCreate {
	now := s.cfg.Now()
	return tx.Job.Create().SetFileID(f.ID).SetKind(job.KindVariants).SetNextAttemptAt(now).SetCreatedAt(now)
}

// variantKey is where f's variant name of type contentType is stored: a
// fixed key, so that a run after a crash replaces what an earlier one put.
// A public file's go under its collection's public prefix, so that their
// public URL works; they are made only once the file is READY, when
// anything under it may be read.
func variantKey(f *ent.File, name, contentType string) string {
	ext := ".jpg"
	if contentType == "image/png" {
		ext = ".png"
	}
	return variantPrefix(f) + name + ext
}

// variantPrefix is the folder of f's variants' objects.
func variantPrefix(f *ent.File) string {
	if strings.HasPrefix(f.FileName, storage.PublicPrefix) || isHeld(f.FileName) {
		return storage.PublicPrefix + f.Collection + "/variants/" + f.ID.String() + "/"
	}
	return privatePrefix + "variants/" + f.ID.String() + "/"
}

// makeVariants runs a variants job: it streams the file's object into the
// decoder (an image over ImageMaxPixels is refused from its header), puts
// each variant at its fixed key, then in one transaction ends the job,
// replaces the file's variants' rows, counts their bytes in the owner's
// usage and writes file.variants_ready. An image that cannot be decoded
// gets none: a log event, the job ends, the file is as it was. A file
// deleted meanwhile (its delete cancels the job) has what this run put
// deleted again.
func (s *Service) makeVariants(ctx context.Context, j *ent.Job) error {
	f, err := s.db.File.Query().Where(file.ID(j.FileID), file.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return s.finishJob(ctx, j)
	}
	if err != nil {
		return dbError("reading file", err)
	}
	c := s.byName[f.Collection]
	if c == nil || len(c.Variants) == 0 || f.Status != file.StatusREADY {
		return s.finishJob(ctx, j) // configured away since
	}
	start := time.Now()
	r, err := s.store.Open(ctx, f.FileName)
	if err != nil {
		return storageError("opening object", err)
	}
	src, err := images.Decode(r, s.cfg.ImageMaxPixels)
	r.Close()
	if errors.Is(err, images.ErrTooLarge) || errors.Is(err, images.ErrUndecodable) {
		if ctx.Err() != nil {
			return ctx.Err() // cut short, not undecodable
		}
		s.log.WarnContext(ctx, "variants.not_made", "file", f.ID, "content_type", f.ContentType, "err", err)
		return s.finishJob(ctx, j)
	}
	if err != nil {
		return fmt.Errorf("decoding image: %w", err)
	}
	made := make([]*ent.FileVariant, 0, len(c.Variants))
	for _, spec := range c.Variants {
		v, err := src.Make(spec)
		if err != nil {
			return fmt.Errorf("making variant %s: %w", spec.Name, err)
		}
		key := variantKey(f, spec.Name, v.ContentType)
		if err := s.store.Put(ctx, key, v.Data, v.ContentType); err != nil {
			return storageError("storing variant", err)
		}
		made = append(made, &ent.FileVariant{FileID: f.ID, Name: spec.Name, FileName: key, Width: v.Width, Height: v.Height, ContentType: v.ContentType, Size: int64(len(v.Data))})
	}
	src = nil
	var old []*ent.FileVariant
	cancelled := false
	err = s.inTx(ctx, "variants", func(tx *ent.Tx) error {
		// First: a delete that cancels the job waits for this, or this
		// finds the job gone (the lock order: job, then usage, outbox).
		n, err := tx.Job.Delete().Where(job.ID(j.ID)).Exec(ctx)
		if err != nil {
			return dbError("ending job", err)
		}
		if n == 0 {
			cancelled = true
			return nil
		}
		// Then the file's row, as every writer of a file's events takes it
		// before its event (the order events are read in per file): a
		// rename committing beside this one is then ordered with it, and
		// the event carries the name and folder the file has now. Setting
		// the status to what it is writes nothing but takes the row.
		// (A delete ends the job first, found gone above; a status changed
		// since the read takes no row and the run goes on as before.)
		if _, err = tx.File.Update().Where(file.ID(f.ID), file.StatusEQ(f.Status)).SetStatus(f.Status).Save(ctx); err != nil {
			return dbError("locking file", err)
		}
		if f, err = tx.File.Get(ctx, f.ID); err != nil {
			return dbError("reading file", err)
		}
		old, err = tx.FileVariant.Query().Where(filevariant.FileID(f.ID)).All(ctx)
		if err != nil {
			return dbError("reading variants", err)
		}
		if _, err := tx.FileVariant.Delete().Where(filevariant.FileID(f.ID)).Exec(ctx); err != nil {
			return dbError("replacing variants", err)
		}
		builders := make([]*ent.FileVariantCreate, len(made))
		var bytes int64
		for i, v := range made {
			builders[i] = tx.FileVariant.Create().SetFileID(f.ID).SetName(v.Name).SetFileName(v.FileName).
				SetWidth(v.Width).SetHeight(v.Height).SetContentType(v.ContentType).SetSize(v.Size).SetCreatedAt(s.cfg.Now())
			bytes += v.Size
		}
		for _, v := range old {
			bytes -= v.Size
		}
		if err := tx.FileVariant.CreateBulk(builders...).Exec(ctx); err != nil {
			return dbError("recording variants", err)
		}
		return s.countAndRecord(ctx, tx, []ent.Usage{{ID: f.Owner, SavedBytes: bytes}}, nil, EventVariantsReady, f)
	})
	if err != nil {
		return err
	}
	if cancelled {
		return s.discardVariants(ctx, f, made)
	}
	s.cfg.Outbox.Committed()
	// A variant whose type changed since an earlier run left its old key.
	for _, o := range old {
		if !slices.ContainsFunc(made, func(v *ent.FileVariant) bool { return v.FileName == o.FileName }) {
			if err := s.store.Delete(ctx, o.FileName); err != nil {
				s.log.WarnContext(ctx, "variants.old_delete_failed", "file", f.ID, "key", o.FileName, "err", err)
			}
		}
	}
	s.log.InfoContext(ctx, "variants.done", "file", f.ID, "count", len(made), "took", time.Since(start))
	return nil
}

// discardVariants deletes what a variants run put for a file whose job
// was cancelled: deleted since, unless another run of the same job (after
// its lease) recorded them, in which case they are the file's.
func (s *Service) discardVariants(ctx context.Context, f *ent.File, made []*ent.FileVariant) error {
	live, err := s.db.File.Query().Where(file.ID(f.ID), file.DeletedAtIsNil()).Exist(ctx)
	if err != nil {
		return dbError("reading file", err)
	}
	if live {
		return nil
	}
	for _, v := range made {
		if err := s.store.Delete(ctx, v.FileName); err != nil {
			s.log.ErrorContext(ctx, "variants.discard_failed", "file", f.ID, "key", v.FileName, "err", err)
			return storageError("deleting variant", err)
		}
	}
	s.log.InfoContext(ctx, "variants.discarded", "file", f.ID, "why", "deleted while made")
	return nil
}

// variantsByFile reads the variants' rows of the files ids (through tx's
// client or the service's), by file, each file's in the order they were
// recorded (the configuration's).
func variantsByFile(ctx context.Context, c *ent.FileVariantClient, ids []uuid.UUID) (map[uuid.UUID][]*ent.FileVariant, error) {
	rows, err := c.Query().Where(filevariant.FileIDIn(ids...)).Order(ent.Asc(filevariant.FieldID)).All(ctx)
	if err != nil {
		return nil, dbError("reading variants", err)
	}
	out := make(map[uuid.UUID][]*ent.FileVariant, len(rows))
	for _, r := range rows {
		out[r.FileID] = append(out[r.FileID], r)
	}
	return out, nil
}

// addVariantBytes adds sign times the bytes of fs's variants to us (whose
// owners are fs's, as usageDeltas made them).
func addVariantBytes(us []ent.Usage, sign int64, fs []*ent.File, vs map[uuid.UUID][]*ent.FileVariant) {
	for _, f := range fs {
		for _, v := range vs[f.ID] {
			for i := range us {
				if us[i].ID == f.Owner {
					us[i].SavedBytes += sign * v.Size
				}
			}
		}
	}
}

// variantKeys are the keys of vs' objects.
func variantKeys(vs []*ent.FileVariant) []string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.FileName
	}
	return keys
}

// removeRow is deleteFileRow through Deletes when the service has it.
func (s *Service) removeRow(ctx context.Context, id uuid.UUID, vs []*ent.FileVariant) (bool, error) {
	if s.cfg.Deletes != nil {
		removed, err := s.removeMarkedRow(ctx, id, len(vs) > 0)
		if err != nil {
			return false, dbError("deleting file row", err)
		}
		return removed, nil
	}
	return s.deleteFileRow(ctx, id, vs)
}

// deleteFileRow deletes a marked file's row with its variants' rows (vs,
// read after its mark: none are added since), reporting whether it was
// there. Without variants it is one statement, as before they were.
func (s *Service) deleteFileRow(ctx context.Context, id uuid.UUID, vs []*ent.FileVariant) (removed bool, err error) {
	if len(vs) == 0 {
		n, err := s.db.File.Delete().Where(file.ID(id)).Exec(ctx)
		return n > 0, err
	}
	err = s.inTx(ctx, "delete row", func(tx *ent.Tx) error {
		if _, err := tx.FileVariant.Delete().Where(filevariant.FileID(id)).Exec(ctx); err != nil {
			return err
		}
		n, err := tx.File.Delete().Where(file.ID(id)).Exec(ctx)
		removed = n > 0
		return err
	})
	return removed, err
}
