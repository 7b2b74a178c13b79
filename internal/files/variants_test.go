package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/images"
	"github.com/filegraph/filegraph/internal/images/imagetest"
	"github.com/filegraph/filegraph/internal/storage"
)

// withVariants is f's service again with the default collection making a
// thumb and a preview.
func (f *fixture) withVariants(t *testing.T, opts func(*files.Options)) *files.Service {
	t.Helper()
	return files.New(f.db.Ent, f.db.Usages, f.store, variantOptions(f, opts), slog.New(slog.DiscardHandler))
}

// TestVariantsListedPerPage: a page's variants are read in one query (rows
// deleted behind the request's back after the first file's are still
// listed for the others), each with a link that downloads its bytes, and
// fileDownloadUrl's variant argument names what is wrong with a name.
func TestVariantsListedPerPage(t *testing.T) {
	f := newFixture(t, files.Limits{})
	svc := f.withVariants(t, nil)
	ctx := context.Background()
	var saved []*ent.File
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		u, err := svc.CreateUploadURLs(as("ann"), []*files.UploadRequest{{OriginalName: name, Size: 3}})
		if err != nil {
			t.Fatal(err)
		}
		f.put(t, u[0], []byte("abc"))
		s, err := svc.Save(as("ann"), []*files.SaveRequest{save(name, u[0])})
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, s[0])
	}
	// Rows as the job writes them (the job's own tests make real ones).
	for i, sf := range saved[:2] {
		key := "files/variants/" + sf.ID.String() + "/thumb.jpg"
		body := []byte(strings.Repeat("v", 10+i))
		if err := f.store.Put(ctx, key, body, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		f.db.Ent.FileVariant.Create().SetFileID(sf.ID).SetName("thumb").SetFileName(key).
			SetWidth(64).SetHeight(48).SetContentType("image/jpeg").SetSize(int64(len(body))).ExecX(ctx)
	}

	rctx := files.WithVariantLoads(as("ann"))
	page, err := svc.List(rctx, files.ListArgs{})
	if err != nil || len(page.Edges) != 3 {
		t.Fatalf("list: %v, %v", page, err)
	}
	got := map[string][]*files.Variant{}
	for i, e := range page.Edges {
		vs, err := svc.Variants(rctx, e.Node)
		if err != nil {
			t.Fatal(err)
		}
		got[e.Node.OriginalName] = vs
		if i == 0 {
			f.db.Ent.FileVariant.Delete().ExecX(ctx) // read already, for the whole page
		}
	}
	for i, name := range []string{"a.bin", "b.bin"} {
		vs := got[name]
		if len(vs) != 1 || vs[0].Name != "thumb" || vs[0].Width != 64 || vs[0].Height != 48 || vs[0].Size != int64(10+i) {
			t.Fatalf("%s's variants: %+v, want its thumb (64x48, %d bytes)", name, vs, 10+i)
		}
		res, err := http.Get(vs[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(body, []byte(strings.Repeat("v", 10+i))) || res.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s's thumb: %d %q %q", name, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, strings.TrimSuffix(name, ".bin")+"-thumb.jpg") {
			t.Errorf("%s's thumb downloads as %q", name, cd)
		}
	}
	if vs := got["c.bin"]; len(vs) != 0 {
		t.Errorf("c.bin lists %+v, it has none", vs)
	}
	// Outside a request's loads, each file reads its own.
	if vs, err := svc.Variants(as("ann"), saved[0]); err != nil || len(vs) != 0 {
		t.Errorf("after the rows' delete: %+v, %v", vs, err)
	}

	bad := "poster"
	_, err = svc.DownloadURL(as("ann"), saved[2].ID, &bad)
	if msg := problems(t, err)["variant"]; !strings.Contains(msg, `"poster"`) || !strings.Contains(msg, "thumb, preview") {
		t.Errorf("unknown variant: %q", msg)
	}
	thumb := "thumb"
	_, err = svc.DownloadURL(as("ann"), saved[2].ID, &thumb)
	var notReady *files.VariantNotReadyError
	if !errors.As(err, &notReady) || notReady.Variant != "thumb" || notReady.Pending {
		t.Errorf("a thumb never made: %v, want VariantNotReadyError (not pending)", err)
	}
	if _, err := svc.DownloadURL(as("bob"), saved[2].ID, &thumb); !errors.Is(err, files.ErrNotFound) {
		t.Errorf("another user's file: %v", err)
	}
	if n := f.db.Ent.FileVariant.Query().Where(filevariant.FileID(saved[0].ID)).CountX(ctx); n != 0 {
		t.Fatal("rows left")
	}
}

// hookedStore is the fixture's disk store with a hook run before each Put.
type hookedStore struct {
	storage.Store
	beforePut func(key string)
}

func (h *hookedStore) Put(ctx context.Context, key string, data []byte, contentType string) error {
	h.beforePut(key)
	return h.Store.Put(ctx, key, data, contentType)
}

// TestVariantsDeletedMidJob: a JPEG deleted after its variants job has
// decoded it and before it stores the first variant (the delete runs in
// the store's Put) ends with no variant object, no variant row, no job,
// its owner's usage at zero and reconcile clean; the same file's variants
// made and then the file deleted leaves the same.
func TestVariantsDeletedMidJob(t *testing.T) {
	for _, midJob := range []bool{true, false} {
		f := newFixture(t, files.Limits{})
		ctx := context.Background()
		var svc *files.Service
		var id uuid.UUID
		deletes := 0
		store := &hookedStore{Store: f.store, beforePut: func(string) {
			if midJob && deletes == 0 {
				deletes++
				if err := svc.Delete(as("ann"), id); err != nil {
					t.Errorf("delete mid-job: %v", err)
				}
			}
		}}
		runs := make(chan error, 10)
		svc = files.New(f.db.Ent, f.db.Usages, store, variantOptions(f, func(o *files.Options) { o.Events = jobRuns(runs) }), slog.New(slog.DiscardHandler))
		u, err := svc.CreateUploadURLs(as("ann"), []*files.UploadRequest{{OriginalName: "p.jpg", Size: int64(len(photo)), ContentType: "image/jpeg"}})
		if err != nil {
			t.Fatal(err)
		}
		f.put(t, u[0], photo)
		saved, err := svc.Save(as("ann"), []*files.SaveRequest{save("p.jpg", u[0])})
		if err != nil {
			t.Fatal(err)
		}
		id = saved[0].ID
		if n := f.db.Ent.Job.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d jobs after saving a JPEG, want its variants job", n)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.RunJobs(runCtx, 1); close(done) }()
		select {
		case err := <-runs:
			if err != nil {
				t.Errorf("midJob %v: the run failed: %v", midJob, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no run ended within 30 s")
		}
		stop()
		<-done
		if n := f.db.Ent.Job.Query().CountX(ctx); n != 0 {
			t.Errorf("midJob %v: %d jobs left", midJob, n)
		}
		if !midJob {
			if n := f.db.Ent.FileVariant.Query().CountX(ctx); n != 2 {
				t.Fatalf("%d variants made, want 2", n)
			}
			if err := svc.Delete(as("ann"), id); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.db.Ent.FileVariant.Query().CountX(ctx); n != 0 {
			t.Errorf("midJob %v: %d variant rows left", midJob, n)
		}
		left := 0
		filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "variants") {
				left++
				t.Errorf("midJob %v: left %s", midJob, p)
			}
			return nil
		})
		us, err := f.db.Ent.Usage.Get(ctx, "ann")
		if err != nil || us.SavedBytes != 0 || us.SavedCount != 0 {
			t.Errorf("midJob %v: usage %+v, %v; want none", midJob, us, err)
		}
		r, err := svc.Reconcile(ctx, false)
		if err != nil || len(r.Orphans) != 0 || len(r.Missing) != 0 {
			t.Errorf("midJob %v: reconcile %+v, %v", midJob, r, err)
		}
	}
}

var photo = imagetest.JPEG(640, 480, 6)

// jobRuns is an Events that sends how each job run ended.
type jobRuns chan error

func (jobRuns) UploadsIssued(int, int64)                      {}
func (jobRuns) FilesSaved(int, int64)                         {}
func (jobRuns) UploadsAborted(int)                            {}
func (jobRuns) Swept(files.SweepReport, error)                {}
func (jobRuns) Reconciled(*files.Reconciliation, error)       {}
func (r jobRuns) JobRun(_ string, err error, _ time.Duration) { r <- err }
func (jobRuns) FileScanned(string)                            {}

// variantOptions is the fixture's service's options with the default
// collection making a thumb and a preview.
func variantOptions(f *fixture, opts func(*files.Options)) files.Options {
	o := files.Options{
		UploadURLTTL: urlTTL, DownloadURLTTL: urlTTL, MaxUploadSize: 1 << 24, SaveWindow: saveWindow,
		DeleteGrace: time.Minute, ClockSkew: time.Minute, Now: f.clock,
		Limits: files.Limits{MaxPendingUploads: 100}, Jobs: f.db.Jobs(), JobTimeout: time.Minute,
		Collections: []files.Collection{{Name: files.DefaultCollection, Variants: []images.Spec{
			{Name: "thumb", Width: 64, Height: 64, Fit: images.Cover},
			{Name: "preview", Width: 256, Height: 256, Fit: images.Inside},
		}}},
	}
	if opts != nil {
		opts(&o)
	}
	return o
}
