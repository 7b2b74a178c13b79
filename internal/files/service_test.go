package files_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/database"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/diskstore"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// fixture is a files.Service on SQLite and a disk store served by its own
// test server: the rules, without the GraphQL and HTTP stack around them.
type fixture struct {
	svc   *files.Service
	db    *database.DB
	store *diskstore.Store
	dir   string // the store's folder
	now   time.Time
	mu    sync.Mutex
}

const (
	urlTTL     = 15 * time.Minute
	saveWindow = time.Hour
)

func newFixture(t *testing.T, limits files.Limits) *fixture {
	t.Helper()
	return newFixtureOn(t, "", limits, nil)
}

// newFixtureOn is newFixture on the database at dbURL (SQLite for ""),
// with its options changed by opts when it is not nil.
func newFixtureOn(t *testing.T, dbURL string, limits files.Limits, opts func(*files.Options, *database.DB)) *fixture {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if dbURL != "" {
		dir = ""
	}
	db, err := database.Open(ctx, dbURL, dir, true, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewUnstartedServer(nil)
	storeDir := t.TempDir()
	store, err := diskstore.New(storeDir, "http://"+srv.Listener.Addr().String()+"/storage/", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.StripPrefix("/storage", store.Handler())
	srv.Start()
	t.Cleanup(srv.Close)
	if limits.MaxPendingUploads == 0 {
		limits.MaxPendingUploads = 1000
	}
	f := &fixture{db: db, store: store, dir: storeDir, now: time.Now()}
	o := files.Options{
		UploadURLTTL:   urlTTL,
		DownloadURLTTL: urlTTL,
		MaxUploadSize:  1 << 20,
		Limits:         limits,
		SaveWindow:     saveWindow,
		DeleteGrace:    time.Minute,
		ClockSkew:      time.Minute,
		Now:            f.clock,
	}
	if opts != nil {
		opts(&o, db)
	}
	f.svc = files.New(db.Ent, db.Usages, store, o, log)
	return f
}

// clock is the service's time; advance moves it. The disk store keeps real
// time, so URLs stay valid while the service thinks time has passed.
func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func as(user string) context.Context {
	return auth.WithUser(context.Background(), auth.User{ID: user})
}

// issue asks for one upload URL as user.
func (f *fixture) issue(t *testing.T, user, name string, size int64) *files.UploadURL {
	t.Helper()
	urls, err := f.svc.CreateUploadURLs(as(user), []*files.UploadRequest{{OriginalName: name, Size: size}})
	if err != nil {
		t.Fatalf("CreateUploadURLs: %v", err)
	}
	return urls[0]
}

// put sends body to the issued URL as a browser does.
func (f *fixture) put(t *testing.T, u *files.UploadURL, body []byte) {
	t.Helper()
	res := storagetest.Send(t, u.Request, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: status %d", res.StatusCode)
	}
}

func save(name string, u *files.UploadURL) *files.SaveRequest {
	return &files.SaveRequest{FileName: u.FileName, OriginalName: name}
}

// problems returns the fields an InvalidError names, or fails.
func problems(t *testing.T, err error) map[string]string {
	t.Helper()
	var invalid *files.InvalidError
	if !errors.As(err, &invalid) {
		t.Fatalf("error %v, want an InvalidError", err)
	}
	out := map[string]string{}
	for _, p := range invalid.Problems {
		out[p.Field] = p.Message
	}
	return out
}

func (f *fixture) count(t *testing.T) (uploads, saved int) {
	t.Helper()
	ctx := context.Background()
	return f.db.Ent.Upload.Query().CountX(ctx), f.db.Ent.File.Query().CountX(ctx)
}

// TestSaveAllOrNothing: one bad request in a save refuses the whole call,
// names each problem by field, and changes nothing.
func TestSaveAllOrNothing(t *testing.T) {
	f := newFixture(t, files.Limits{})
	good, missing, short := f.issue(t, "u", "good.bin", 10), f.issue(t, "u", "missing.bin", 10), f.issue(t, "u", "short.bin", 10)
	f.put(t, good, []byte("0123456789"))
	storagetest.Upload(t, f.store, short.FileName, "application/octet-stream", []byte("012")) // written past the URL
	_, err := f.svc.Save(as("u"), []*files.SaveRequest{
		save("good.bin", good), save("missing.bin", missing), save("short.bin", short),
		{FileName: "files/00000000000000000000000000000000.bin", OriginalName: "x.bin"},
	})
	got := problems(t, err)
	for field, want := range map[string]string{
		"files[1].fileName": "has not been uploaded",
		"files[2].fileName": "is 3 bytes in storage, 10 were announced",
		"files[3].fileName": "was not issued",
	} {
		if !strings.Contains(got[field], want) {
			t.Errorf("%s: %q, want %q", field, got[field], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("problems %v, want exactly the three", got)
	}
	_, err = f.svc.Save(as("u"), []*files.SaveRequest{save("good.bin", good), save("good.bin", good)})
	if got := problems(t, err)["files[1].fileName"]; got != "repeats files[0]" {
		t.Errorf("a repeated key: %q", got)
	}
	if uploads, saved := f.count(t); uploads != 3 || saved != 0 {
		t.Errorf("after refused saves: %d uploads, %d files; want 3 and 0", uploads, saved)
	}
}

// TestSaveIsRetryable: saving again returns the same file; a name other than
// the announced one is refused before and after saving.
func TestSaveIsRetryable(t *testing.T) {
	f := newFixture(t, files.Limits{})
	u := f.issue(t, "u", "a.txt", 5)
	f.put(t, u, []byte("hello"))
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("b.txt", u)}); !strings.Contains(problems(t, err)["files[0].originalName"], `was issued for "a.txt"`) {
		t.Errorf("renamed before saving: %v", err)
	}
	first, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", u)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", u)})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(again) != 1 || first[0].ID != again[0].ID || first[0].Size != 5 {
		t.Errorf("save then retry: %+v, %+v", first, again)
	}
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("b.txt", u)}); !strings.Contains(problems(t, err)["files[0].originalName"], `was saved as "a.txt"`) {
		t.Errorf("renamed after saving: %v", err)
	}
	if uploads, saved := f.count(t); uploads != 0 || saved != 1 {
		t.Errorf("%d uploads, %d files; want 0 and 1", uploads, saved)
	}
}

// TestSaveOnlyOwnUploads: another user's key reads as never issued, and
// their saved file as not found.
func TestSaveOnlyOwnUploads(t *testing.T) {
	f := newFixture(t, files.Limits{})
	u := f.issue(t, "alice", "a.txt", 5)
	f.put(t, u, []byte("hello"))
	if _, err := f.svc.Save(as("mallory"), []*files.SaveRequest{save("a.txt", u)}); !strings.Contains(problems(t, err)["files[0].fileName"], "was not issued") {
		t.Errorf("saving another's upload: %v", err)
	}
	saved, err := f.svc.Save(as("alice"), []*files.SaveRequest{save("a.txt", u)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Get(as("mallory"), saved[0].ID); !errors.Is(err, files.ErrNotFound) {
		t.Errorf("another's file: %v, want ErrNotFound", err)
	}
}

// TestSaveWindow: an upload may be saved after its URL expired, within the
// save window; past it, it is refused, and the sweeper takes it and its
// object.
func TestSaveWindow(t *testing.T) {
	f := newFixture(t, files.Limits{})
	late, expired := f.issue(t, "u", "late.txt", 4), f.issue(t, "u", "expired.txt", 4)
	f.put(t, late, []byte("late"))
	f.put(t, expired, []byte("gone"))
	f.advance(urlTTL + saveWindow/2)
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("late.txt", late)}); err != nil {
		t.Errorf("saving inside the window: %v", err)
	}
	f.advance(saveWindow)
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("expired.txt", expired)}); !strings.Contains(problems(t, err)["files[0].fileName"], "expired at") {
		t.Errorf("saving past the window: %v", err)
	}
	f.advance(2 * time.Minute) // the sweeper's clock-skew margin
	r, err := f.svc.Sweep(context.Background())
	if err != nil || r.Uploads != 1 {
		t.Fatalf("sweep: %+v, %v; want 1 upload", r, err)
	}
	if _, err := f.store.Stat(context.Background(), expired.FileName); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("the swept upload's object: %v", err)
	}
	if _, err := f.store.Stat(context.Background(), late.FileName); err != nil {
		t.Errorf("the saved file's object: %v", err)
	}
}

// TestQuota: pending and saved bytes count against the quota together, and
// the refusal says by how much.
func TestQuota(t *testing.T) {
	f := newFixture(t, files.Limits{UserQuotaBytes: 100})
	u := f.issue(t, "u", "a.bin", 60)
	f.put(t, u, make([]byte, 60))
	if _, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.bin", u)}); err != nil {
		t.Fatal(err)
	}
	f.issue(t, "u", "b.bin", 30)
	_, err := f.svc.CreateUploadURLs(as("u"), []*files.UploadRequest{{OriginalName: "c.bin", Size: 20}})
	var limit *files.LimitError
	if !errors.As(err, &limit) || limit.Limit != "USER_QUOTA_BYTES" || !strings.Contains(limit.Message, "10 bytes over your quota of 100 (60 saved, 30 pending)") {
		t.Errorf("over quota: %v", err)
	}
	if _, err := f.svc.CreateUploadURLs(as("other"), []*files.UploadRequest{{OriginalName: "c.bin", Size: 100}}); err != nil {
		t.Errorf("another user's quota is their own: %v", err)
	}
}

// TestStoreRefusingIsNotUnavailable: a store that refuses the server (here
// its folder is a file) is not an outage the client should retry.
func TestStoreRefusingIsNotUnavailable(t *testing.T) {
	f := newFixture(t, files.Limits{})
	u := f.issue(t, "u", "a.txt", 5)
	f.put(t, u, []byte("hello"))
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Save(as("u"), []*files.SaveRequest{save("a.txt", u)})
	if err == nil || errors.Is(err, files.ErrUnavailable) || !errors.Is(err, storage.ErrMisconfigured) {
		t.Errorf("save on a refusing store: %v, want a misconfiguration, not ErrUnavailable", err)
	}
}
