package webhooks

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/delivery"
	"github.com/filegraph/filegraph/internal/database"
	"github.com/filegraph/filegraph/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

var secret = []byte("0123456789abcdef0123456789abcdef")

// backends opens a fresh database of each kind.
var backends = []struct {
	name string
	open func(t *testing.T) *database.DB
}{
	{"sqlite", func(t *testing.T) *database.DB {
		db, err := database.Open(context.Background(), "", t.TempDir(), true, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(t *testing.T) *database.DB {
		pg, err := testenv.NewPostgres()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		db, err := database.Open(context.Background(), pg.URL, "", true, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

func eachBackend(t *testing.T, f func(t *testing.T, db *database.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

// emit writes events as the files service does: in one transaction, under
// the outbox's stamp, each with a delivery to every URL.
func emit(t *testing.T, db *database.DB, urls []string, typ string, files ...uuid.UUID) []*ent.Event {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	xid, err := db.Outbox.Stamp(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var evs []*ent.Event
	for _, f := range files {
		ev, err := tx.Event.Create().SetType(typ).SetFileID(f).SetOwner("alice").
			SetData(fmt.Sprintf(`{"id":%q,"fileName":"files/%s.txt"}`, f, f)).SetCreatedAt(now).SetXid(xid).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range urls {
			tx.Delivery.Create().SetEventID(ev.ID).SetURL(u).SetFileID(f).SetNextAttemptAt(now).SetCreatedAt(now).ExecX(ctx)
		}
		evs = append(evs, ev)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Outbox.Committed()
	return evs
}

// received is one POST a receiver took, its signature checked.
type received struct {
	id, typ string
	file    string
	status  int
}

// receiver is a real HTTP server that checks each webhook's signature and
// answers with answer (by webhook-id and the try's number for that id).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	bad  []string
	seen map[string]int
}

func newReceiver(t *testing.T, answer func(id string, try int) int) *receiver {
	r := &receiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		sec, _ := strconv.ParseInt(ts, 10, 64)
		want := Sign(secret, id, sec, body)
		var b struct {
			Type string
			Data struct{ ID string }
		}
		json.Unmarshal(body, &b)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			r.bad = append(r.bad, id)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.seen[id]++
		status := answer(id, r.seen[id])
		r.got = append(r.got, received{id: id, typ: b.Type, file: b.Data.ID, status: status})
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) snapshot() ([]received, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), slices.Clone(r.bad)
}

// run starts a sender until the test ends.
func run(t *testing.T, db *database.DB, opts Options) *Sender {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = secret
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = time.Hour
	}
	if opts.Backoff == 0 {
		opts.Backoff = 50 * time.Millisecond
	}
	opts.Poll = 50 * time.Millisecond
	s := newSender(db.Ent, db.Deliveries, opts, quiet)
	db.Outbox.OnCommit(s.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func statuses(t *testing.T, db *database.DB) map[delivery.Status]int {
	t.Helper()
	ds, err := db.Ent.Delivery.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[delivery.Status]int{}
	for _, d := range ds {
		m[d.Status]++
	}
	return m
}

// A receiver answering 500 to each event's first try and 200 to the next
// gets every event, twice, under one webhook-id each, correctly signed;
// each file's events are accepted in their order (saved before deleted),
// and the rows say delivered after 2 tries.
func TestDeliversWithRetriesInFileOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *database.DB) {
		r := newReceiver(t, func(_ string, try int) int {
			if try == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		run(t, db, Options{URLs: []string{r.URL}, AllowPrivate: true})
		var files []uuid.UUID
		for range 40 {
			files = append(files, uuid.New())
		}
		saved := emit(t, db, []string{r.URL}, "file.saved", files...)
		deleted := emit(t, db, []string{r.URL}, "file.deleted", files[:20]...)
		all := append(saved, deleted...)
		testenv.WaitFor(t, "every delivery delivered", func() bool { return statuses(t, db)[delivery.StatusDelivered] == len(all) })

		got, bad := r.snapshot()
		if len(bad) > 0 {
			t.Fatalf("%d webhooks failed the signature check", len(bad))
		}
		if len(got) != 2*len(all) {
			t.Errorf("the receiver took %d POSTs, want %d (a 500 and a 200 for each event)", len(got), 2*len(all))
		}
		byID := map[string]*ent.Event{}
		for _, ev := range all {
			byID[ev.PublicID.String()] = ev
		}
		order := map[string][]string{} // file -> types in the order accepted
		for _, g := range got {
			ev := byID[g.id]
			if ev == nil {
				t.Fatalf("webhook-id %s is no event's", g.id)
			}
			if g.typ != ev.Type || g.file != ev.FileID.String() {
				t.Errorf("webhook %s carried %s of %s, want %s of %s", g.id, g.typ, g.file, ev.Type, ev.FileID)
			}
			if g.status == http.StatusOK {
				order[g.file] = append(order[g.file], g.typ)
			}
		}
		for i, f := range files {
			want := []string{"file.saved"}
			if i < 20 {
				want = append(want, "file.deleted")
			}
			if !slices.Equal(order[f.String()], want) {
				t.Errorf("file %d: accepted %v, want %v", i, order[f.String()], want)
			}
		}
		ds, _ := db.Ent.Delivery.Query().All(context.Background())
		for _, d := range ds {
			if d.Attempts != 2 || d.DoneAt == nil || d.LastError != "" {
				t.Errorf("delivery %d: %d attempts, done %v, last error %q; want 2, a time, none", d.ID, d.Attempts, d.DoneAt, d.LastError)
			}
		}
	})
}

// Two senders on one PostgreSQL (two replicas) claim side by side, each
// row once: with no crash, every event arrives exactly once.
func TestTwoSendersClaimEachDeliveryOnce(t *testing.T) {
	db := backends[1].open(t)
	r := newReceiver(t, func(string, int) int { return http.StatusNoContent })
	run(t, db, Options{URLs: []string{r.URL}, AllowPrivate: true, MaxInFlight: 4})
	run(t, db, Options{URLs: []string{r.URL}, AllowPrivate: true, MaxInFlight: 4})
	var n int
	for range 20 {
		var files []uuid.UUID
		for range 10 {
			files = append(files, uuid.New())
		}
		n += len(emit(t, db, []string{r.URL}, "file.saved", files...))
	}
	testenv.WaitFor(t, "every delivery delivered", func() bool { return statuses(t, db)[delivery.StatusDelivered] == n })
	got, _ := r.snapshot()
	ids := map[string]int{}
	for _, g := range got {
		ids[g.id]++
	}
	if len(got) != n || len(ids) != n {
		t.Fatalf("%d POSTs of %d ids for %d events: want each once", len(got), len(ids), n)
	}
}

// A receiver that never answers 2xx is tried until WEBHOOK_RETRY_FOR has
// passed, then the delivery is failed with its last answer; retried by an
// operator it goes out again.
func TestFailsAfterRetryForThenRetry(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *database.DB) {
		var up atomic.Bool
		r := newReceiver(t, func(string, int) int {
			if up.Load() {
				return http.StatusOK
			}
			return http.StatusServiceUnavailable
		})
		run(t, db, Options{URLs: []string{r.URL}, AllowPrivate: true, RetryFor: 2 * time.Second, Backoff: 100 * time.Millisecond})
		f := uuid.New()
		emit(t, db, []string{r.URL}, "file.saved", f)
		testenv.WaitFor(t, "the delivery failed", func() bool { return statuses(t, db)[delivery.StatusFailed] == 1 })
		failed, err := Failed(context.Background(), db.Ent, 10)
		if err != nil || len(failed) != 1 {
			t.Fatalf("Failed: %v %v", failed, err)
		}
		d := failed[0]
		if d.Attempts < 3 || !strings.HasPrefix(d.LastError, "HTTP 503") || d.Edges.Event == nil {
			t.Errorf("failed after %d tries with %q: want a few tries, the 503 kept", d.Attempts, d.LastError)
		}
		got, _ := r.snapshot()
		if len(got) != d.Attempts {
			t.Errorf("%d POSTs for %d attempts", len(got), d.Attempts)
		}
		if err := Retry(context.Background(), db.Ent, d.ID+1000, time.Now()); err == nil {
			t.Error("retrying a delivery that is not there succeeded")
		}
		up.Store(true)
		if err := Retry(context.Background(), db.Ent, d.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "the retried delivery delivered", func() bool { return statuses(t, db)[delivery.StatusDelivered] == 1 })
		if n, err := RetryAll(context.Background(), db.Ent, time.Now()); err != nil || n != 0 {
			t.Errorf("RetryAll with nothing failed: %d, %v", n, err)
		}
	})
}

// Without WEBHOOK_ALLOW_PRIVATE, a URL on a loopback address is refused
// at start as a misconfiguration, and, should its name resolve there only
// later, at the connection: the receiver gets nothing and the row says
// why.
func TestPrivateAddressesRefused(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x", "http://10.1.2.3/x",
		"http://169.254.169.254/latest/meta-data", "http://[::ffff:192.168.0.1]/", "http://100.64.0.1/", "http://[64:ff9b::a00:1]/"} {
		err := CheckURLs(context.Background(), []string{u}, false, quiet)
		if err == nil || !strings.HasPrefix(err.Error(), "configuration: WEBHOOK_URL: ") || !strings.Contains(err.Error(), "WEBHOOK_ALLOW_PRIVATE") {
			t.Errorf("%s: %v, want a WEBHOOK_URL misconfiguration", u, err)
		}
		if err := CheckURLs(context.Background(), []string{u}, true, quiet); err != nil {
			t.Errorf("%s with WEBHOOK_ALLOW_PRIVATE: %v", u, err)
		}
	}
	if err := CheckURLs(context.Background(), []string{"https://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/"}, false, quiet); err != nil {
		t.Errorf("public addresses: %v", err)
	}
	if _, err := New(context.Background(), nil, nil, Options{URLs: []string{"http://127.0.0.1/"}, Secret: secret}, quiet); err == nil {
		t.Error("New took a loopback URL")
	}

	eachBackend(t, func(t *testing.T, db *database.DB) {
		r := newReceiver(t, func(string, int) int { return http.StatusOK })
		run(t, db, Options{URLs: []string{r.URL}, RetryFor: time.Hour})
		emit(t, db, []string{r.URL}, "file.saved", uuid.New())
		testenv.WaitFor(t, "a refused try", func() bool {
			d, err := db.Ent.Delivery.Query().Only(context.Background())
			return err == nil && strings.Contains(d.LastError, "refused to connect to 127.0.0.1, a loopback address")
		})
		if got, _ := r.snapshot(); len(got) > 0 {
			t.Fatalf("the receiver on loopback got %d POSTs", len(got))
		}
	})
}

// A redirect is not followed (the POST never reaches its target), and an
// answer whose body never ends is read 64 KiB deep, not to the timeout.
func TestNoRedirectsAndBoundedAnswers(t *testing.T) {
	db := backends[0].open(t)
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	var written atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		for {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer endless.Close()

	run(t, db, Options{URLs: []string{redirect.URL, endless.URL}, AllowPrivate: true, Timeout: 30 * time.Second})
	emit(t, db, []string{redirect.URL, endless.URL}, "file.saved", uuid.New())
	testenv.WaitFor(t, "a redirect refused and an endless answer delivered", func() bool {
		ds, _ := db.Ent.Delivery.Query().All(context.Background())
		var redirected, done bool
		for _, d := range ds {
			redirected = redirected || (d.URL == redirect.URL && strings.HasPrefix(d.LastError, "HTTP 307 (redirects are not followed)"))
			done = done || (d.URL == endless.URL && d.Status == delivery.StatusDelivered)
		}
		return redirected && done
	})
	if reached.Load() != 0 {
		t.Error("the redirect was followed")
	}
	// What the kernel's buffers took, beyond the 64 KiB read: megabytes,
	// where reading to the 30s timeout would have been gigabytes.
	if w := written.Load(); w > 32<<20 {
		t.Errorf("the receiver wrote %d bytes before the sender hung up", w)
	}
}

// Pruning removes what was delivered before WEBHOOK_KEEP and the events
// nothing refers to; failed and pending deliveries and their events stay,
// but one pending to a URL no longer configured is given up after
// WEBHOOK_RETRY_FOR.
func TestPrune(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		old := emit(t, db, []string{"https://a.example/"}, "file.saved", uuid.New(), uuid.New(), uuid.New(), uuid.New())
		gone := emit(t, db, []string{"https://gone.example/"}, "file.saved", uuid.New())
		bare := emit(t, db, nil, "file.saved", uuid.New())
		ds := db.Ent.Delivery.Query().Order(delivery.ByID()).AllX(ctx)
		week := 8 * 24 * time.Hour
		then := time.Now().Add(-week)
		db.Ent.Delivery.UpdateOneID(ds[0].ID).SetStatus(delivery.StatusDelivered).SetDoneAt(then).ExecX(ctx)
		db.Ent.Delivery.UpdateOneID(ds[1].ID).SetStatus(delivery.StatusDelivered).SetDoneAt(time.Now()).ExecX(ctx)
		db.Ent.Delivery.UpdateOneID(ds[2].ID).SetStatus(delivery.StatusFailed).SetDoneAt(then).ExecX(ctx)
		// ds[3] pending to a.example, ds[4] pending to gone.example.

		// Nothing is old yet but the one delivered a week ago; the events
		// are all new.
		p, err := Prune(ctx, db.Ent, 7*24*time.Hour, 24*time.Hour, []string{"https://a.example/"}, time.Now())
		if err != nil || p != (Pruned{Deliveries: 1}) {
			t.Fatalf("first prune: %+v %v", p, err)
		}
		// A week on: the second delivery goes too, then the events without
		// deliveries (those two's and the one that had none); the delivery
		// to a URL no longer set is given up.
		p, err = Prune(ctx, db.Ent, 7*24*time.Hour, 24*time.Hour, []string{"https://a.example/"}, time.Now().Add(week))
		if err != nil || p != (Pruned{Deliveries: 1, Events: 3, Abandoned: 1}) {
			t.Fatalf("second prune: %+v %v", p, err)
		}
		left := db.Ent.Event.Query().IDsX(ctx)
		want := []int64{old[2].ID, old[3].ID, gone[0].ID}
		slices.Sort(left)
		if !slices.Equal(left, want) {
			t.Errorf("events left %v, want %v (bare %d pruned)", left, want, bare[0].ID)
		}
		d := db.Ent.Delivery.GetX(ctx, ds[4].ID)
		if d.Status != delivery.StatusFailed || !strings.Contains(d.LastError, "no longer in WEBHOOK_URL") {
			t.Errorf("the delivery to a URL no longer set: %s %q", d.Status, d.LastError)
		}
	})
}

// The backoff doubles from its start up to its cap, each delay drawn
// between half of it and all of it.
func TestBackoff(t *testing.T) {
	s := &Sender{opts: Options{Backoff: time.Second, MaxBackoff: time.Hour}}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 13: time.Hour, 100: time.Hour} {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 1000 {
			d := s.backoff(attempts)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < want/2 || hi > want || hi-lo < want/4 {
			t.Errorf("after %d tries: delays from %v to %v, want spread over %v..%v", attempts, lo, hi, want/2, want)
		}
	}
}

// Commit-to-2xx latency of the delivery path alone at a steady rate
// (default 200 events/s for 2s, in commits of 10; FILEGRAPH_WEBHOOK_RATE
// and FILEGRAPH_WEBHOOK_DURATION change it), on each backend: events
// committed as saveFiles commits them, a receiver answering 204 at once.
// Every event must arrive once; the figures are logged.
func TestLatencyAtRate(t *testing.T) {
	rate, duration := 200, 2*time.Second
	if v := os.Getenv("FILEGRAPH_WEBHOOK_RATE"); v != "" {
		rate, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("FILEGRAPH_WEBHOOK_DURATION"); v != "" {
		duration, _ = time.ParseDuration(v)
	}
	eachBackend(t, func(t *testing.T, db *database.DB) {
		var mu sync.Mutex
		var lat []time.Duration
		committed := map[string]time.Time{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			id := req.Header.Get("webhook-id")
			mu.Lock()
			defer mu.Unlock()
			if at, ok := committed[id]; ok {
				lat = append(lat, time.Since(at))
				delete(committed, id)
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		run(t, db, Options{URLs: []string{srv.URL}, AllowPrivate: true})
		const batch = 10
		tick := time.NewTicker(time.Second * batch / time.Duration(rate))
		defer tick.Stop()
		start, n := time.Now(), 0
		for time.Since(start) < duration {
			<-tick.C
			files := make([]uuid.UUID, batch)
			for i := range files {
				files[i] = uuid.New()
			}
			mu.Lock() // the ids are known only after the commit: hold the receiver
			evs := emit(t, db, []string{srv.URL}, "file.saved", files...)
			now := time.Now()
			for _, ev := range evs {
				committed[ev.PublicID.String()] = now
			}
			mu.Unlock()
			n += batch
		}
		took := time.Since(start)
		testenv.WaitFor(t, "every event", func() bool { mu.Lock(); defer mu.Unlock(); return len(lat) == n })
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		t.Logf("%d events in %v (%.0f/s): commit-to-2xx p50 %v, p90 %v, p99 %v, max %v",
			n, took.Round(time.Millisecond), float64(n)/took.Seconds(), q(.5), q(.9), q(.99), lat[len(lat)-1])
	})
}
