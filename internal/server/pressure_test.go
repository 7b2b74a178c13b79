package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/testenv"
)

// pressure is a bounded crowd of writers: each of its clients runs create
// (10 files) → PUT each → save, over and over until the time is up. Busy
// is not broken: every answer must be a success or UNAVAILABLE.
type pressure struct {
	clients  int
	duration time.Duration
	files    int // per flow

	mu       sync.Mutex
	outcomes map[string]int // "createUploadUrls ok", "saveFiles UNAVAILABLE", "PUT 200", ...
	flows    []time.Duration
	writes   []time.Duration // each createUploadUrls and saveFiles answer
	saved    int
	other    []string // anything not a success or UNAVAILABLE, for the failure message
}

// pressureDuration is how long each pressure test runs:
// FILEGRAPH_PRESSURE_DURATION, else short enough for every `make test`.
func pressureDuration(t *testing.T, def time.Duration) time.Duration {
	if v := os.Getenv("FILEGRAPH_PRESSURE_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return def
}

func (p *pressure) record(op, outcome string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outcomes == nil {
		p.outcomes = map[string]int{}
	}
	p.outcomes[op+" "+outcome]++
	if op != "PUT" {
		p.writes = append(p.writes, d)
	}
	if outcome != "ok" && outcome != "UNAVAILABLE" && outcome != "200" {
		if len(p.other) < 20 {
			p.other = append(p.other, op+" "+outcome)
		}
	}
}

// run drives the crowd against e; readiness, when given, is polled while
// it runs and each poll's answer recorded.
func (p *pressure) run(t *testing.T, e *env, readiness *readinessPolls) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * p.clients}, Timeout: time.Minute}
	t.Cleanup(hc.CloseIdleConnections)
	deadline := time.Now().Add(p.duration)
	stopPolls := make(chan struct{})
	var polls sync.WaitGroup
	if readiness != nil {
		polls.Go(func() { readiness.poll(e.URL, stopPolls) })
	}
	var wg sync.WaitGroup
	for c := range p.clients {
		tok := token(t, fmt.Sprintf("writer-%d", c)) // on the test goroutine: token may t.Fatal
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				p.flow(hc, e.URL, tok, fmt.Sprintf("w%d-%d", c, i))
			}
		})
	}
	wg.Wait()
	close(stopPolls)
	polls.Wait()
}

// flow runs one create → PUT → save; a step that is refused ends it.
func (p *pressure) flow(hc *http.Client, base, tok, name string) {
	start := time.Now()
	reqs := make([]map[string]any, p.files)
	bodies := make([][]byte, p.files)
	for i := range reqs {
		bodies[i] = fmt.Appendf(nil, "%s file %d %s", name, i, strings.Repeat("x", i*100))
		reqs[i] = map[string]any{"originalName": fmt.Sprintf("%s-%d.txt", name, i), "size": len(bodies[i]), "contentType": "text/plain"}
	}
	var created struct{ CreateUploadUrls []uploadURL }
	if !p.gql(hc, base, tok, "createUploadUrls", createQ, map[string]any{"files": reqs}, &created) {
		return
	}
	saves := make([]map[string]any, 0, p.files)
	for i, u := range created.CreateUploadUrls {
		s := time.Now()
		req, _ := http.NewRequest(u.Method, u.URL, bytes.NewReader(bodies[i]))
		for _, h := range u.Headers {
			if h.Name != "Content-Length" {
				req.Header.Set(h.Name, h.Value)
			}
		}
		res, err := hc.Do(req)
		if err != nil {
			p.record("PUT", "transport: "+err.Error(), time.Since(s))
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		outcome := fmt.Sprint(res.StatusCode)
		switch res.StatusCode {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			// The store could not ask the database whether the upload is
			// still pending: busy, said as HTTP says it.
			outcome = "UNAVAILABLE"
		default:
			outcome += " " + string(b)
		}
		p.record("PUT", outcome, time.Since(s))
		if res.StatusCode != http.StatusOK {
			return
		}
		saves = append(saves, map[string]any{"fileName": u.FileName, "originalName": reqs[i]["originalName"]})
	}
	var saved struct{ SaveFiles []fileNode }
	if !p.gql(hc, base, tok, "saveFiles", saveQ, map[string]any{"files": saves}, &saved) {
		return
	}
	p.mu.Lock()
	p.saved += len(saved.SaveFiles)
	p.flows = append(p.flows, time.Since(start))
	p.mu.Unlock()
}

// gql posts one operation and records its outcome: ok, or its error code.
func (p *pressure) gql(hc *http.Client, base, tok, op, query string, vars map[string]any, out any) bool {
	s := time.Now()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", base+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		p.record(op, "transport: "+err.Error(), time.Since(s))
		return false
	}
	defer res.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		p.record(op, fmt.Sprintf("status %d, undecodable: %v", res.StatusCode, err), time.Since(s))
		return false
	}
	if len(r.Errors) > 0 {
		code := r.Errors[0].code()
		if code != "UNAVAILABLE" {
			code += ": " + r.Errors[0].Message
		}
		p.record(op, code, time.Since(s))
		return false
	}
	p.record(op, "ok", time.Since(s))
	json.Unmarshal(r.Data, out)
	return true
}

// check fails the test on any answer that is not a success or UNAVAILABLE,
// on too few completed flows, and on storage and database that disagree;
// it logs the figures.
func (p *pressure) check(t *testing.T, e *env, minFlows int) {
	t.Helper()
	slices.Sort(p.flows)
	slices.Sort(p.writes)
	pct := func(ds []time.Duration, q int) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[len(ds)*q/100].Round(time.Millisecond)
	}
	t.Logf("%d clients × %v: %d flows (%d files saved), flow p50 %v p99 %v; write answers p50 %v p99 %v",
		p.clients, p.duration, len(p.flows), p.saved, pct(p.flows, 50), pct(p.flows, 99), pct(p.writes, 50), pct(p.writes, 99))
	for _, k := range slices.Sorted(maps.Keys(p.outcomes)) {
		t.Logf("  %-40.120s %d", k, p.outcomes[k])
	}
	if len(p.other) > 0 {
		t.Errorf("answers that are neither a success nor UNAVAILABLE, e.g.:\n  %s", strings.Join(p.other, "\n  "))
	}
	if len(p.flows) < minFlows {
		t.Errorf("%d flows completed, want at least %d", len(p.flows), minFlows)
	}
	r, err := e.srv.Files.Reconcile(auth.WithUser(context.Background(), auth.LocalUser), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Orphans) != 0 || len(r.Missing) != 0 || r.Files != p.saved {
		t.Errorf("after the pressure: %d file rows for %d saved files; orphans %v, missing %v", r.Files, p.saved, r.Orphans, r.Missing)
	}
}

// readinessPolls asks /readyz every 200ms, as a load balancer would.
type readinessPolls struct {
	mu       sync.Mutex
	answers  map[string]int
	slowest  time.Duration
	failures []string
}

func (r *readinessPolls) poll(base string, stop <-chan struct{}) {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	r.answers = map[string]int{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s := time.Now()
		res, err := hc.Get(base + "/readyz")
		d := time.Since(s)
		r.mu.Lock()
		r.slowest = max(r.slowest, d)
		if err != nil {
			r.answers["error"]++
			r.failures = append(r.failures, err.Error())
		} else {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r.answers[fmt.Sprint(res.StatusCode)]++
			if res.StatusCode != http.StatusOK {
				r.failures = append(r.failures, fmt.Sprintf("%d %s", res.StatusCode, b))
			}
		}
		r.mu.Unlock()
	}
}

// check wants every poll ready: the database and storage are busy, not
// down, and a replica that is only busy must not be taken out.
func (r *readinessPolls) check(t *testing.T) {
	t.Helper()
	t.Logf("readiness polls: %v, slowest %v", r.answers, r.slowest.Round(time.Millisecond))
	if len(r.failures) > 0 {
		t.Errorf("a busy, healthy server was reported not ready %d times, e.g. %s", len(r.failures), r.failures[0])
	}
	if r.answers["200"] == 0 {
		t.Error("no readiness poll was answered")
	}
}

// TestPressureSQLite: 200 writers on SQLite and disk storage. Writers
// queue for SQLite's one write lock within their deadline; none gets
// INTERNAL_SERVER_ERROR, readiness holds, and afterwards every saved file
// and nothing else is there. The write-ahead log is back within its limit.
func TestPressureSQLite(t *testing.T) {
	dir := t.TempDir()
	e := newAuthEnv(t, "sqlite+disk", "DATA_DIR", dir, "REQUEST_TIMEOUT", "10s")
	p := &pressure{clients: 200, duration: pressureDuration(t, 8*time.Second), files: 10}
	var ready readinessPolls
	p.run(t, e, &ready)
	p.check(t, e, 20)
	ready.check(t)
	// The pool is bounded: each SQLite connection holds a few descriptors
	// of the database's files, and there are at most DB_MAX_CONNS of them
	// and one for readiness.
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		open := 0
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, filepath.Join(dir, "filegraph.db")) {
				open++
			}
		}
		t.Logf("descriptors open on the database's files: %d", open)
		if open > 3*11 {
			t.Errorf("%d descriptors open on the database's files, more than 3 for each of 11 connections", open)
		}
	}

	// One more write after the crowd has gone lets the checkpoint reset
	// the log, which journal_size_limit then truncates.
	e.as(token(t, "writer-0")).upload("after.txt", "text/plain", []byte("after"))
	e.as(token(t, "writer-0")).upload("after2.txt", "text/plain", []byte("after"))
	fi, err := os.Stat(filepath.Join(dir, "filegraph.db-wal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL after the pressure: %d bytes", fi.Size())
	if fi.Size() > 4<<20 {
		t.Errorf("the write-ahead log is %d bytes after the load, over its 4 MiB limit", fi.Size())
	}
}

// limitedPostgres is a fresh database reached through a role that may
// hold only conns connections, like a PostgreSQL with few slots left; a
// role limit (53300 like the server's own) leaves other tests' slots alone.
func limitedPostgres(t *testing.T, conns int) (pgURL string, admin *sql.DB) {
	t.Helper()
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	u, _ := url.Parse(pg.URL)
	dbName := strings.TrimPrefix(u.Path, "/")
	role := "fg_press_" + strings.TrimPrefix(dbName, "filegraph_test_")
	admin, err = sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT %d", role, conns),
		fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", dbName, role),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// Runs before pg.Close drops the database: the role owns it.
	t.Cleanup(func() {
		admin.Exec(fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'", role))
		admin.Exec(fmt.Sprintf("ALTER DATABASE %s OWNER TO postgres", dbName))
		admin.Exec("DROP ROLE " + role)
	})
	u.User = url.User(role)
	return u.String(), admin
}

// TestPressurePostgresFewSlots: PostgreSQL has only a few connection slots
// left (the rest held by idle sessions) and the pool would like more.
// Connections refused with 53300 are UNAVAILABLE, never INTERNAL; the
// readiness connection, opened at start, keeps the replica in service.
func TestPressurePostgresFewSlots(t *testing.T) {
	const slots = 14
	pgURL, _ := limitedPostgres(t, slots)
	e := newAuthEnv(t, "sqlite+disk", "DATABASE_URL", pgURL, "DB_MAX_CONNS", "10", "REQUEST_TIMEOUT", "5s")
	// The server holds two (one pooled, one for readiness); idle sessions
	// take all but two of the rest.
	idle, err := sql.Open("postgres", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idle.Close() })
	var held []*sql.Conn
	for range slots - 4 {
		c, err := idle.Conn(context.Background())
		if err != nil {
			t.Fatalf("holding idle session %d: %v", len(held), err)
		}
		held = append(held, c)
	}
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	p := &pressure{clients: 50, duration: pressureDuration(t, 5*time.Second), files: 10}
	var ready readinessPolls
	p.run(t, e, &ready)
	p.check(t, e, 1)
	ready.check(t)
	if p.outcomes["createUploadUrls UNAVAILABLE"]+p.outcomes["saveFiles UNAVAILABLE"] == 0 {
		t.Log("no request met a refused connection this run")
	}
}

// TestUploadURLLifeAfterDatabaseWait: while another process holds
// SQLite's write lock for 2.5s, 50 clients ask for upload URLs with a 3s
// lifetime. Their answers wait for the lock, and still every URL has its
// lifetime when the answer arrives (less the second the disk store rounds
// its expiry down to, and 750ms for the answer to travel on a loaded
// machine), because it is signed after its row is written; signed first,
// it would arrive with under half a second left. No URL outlives its row's
// expiry by more than the sweeper's ClockSkew margin, so nothing sweeps an
// upload whose URL still works.
func TestUploadURLLifeAfterDatabaseWait(t *testing.T) {
	const ttl, hold = 3 * time.Second, 2500 * time.Millisecond
	dir := t.TempDir()
	e := newAuthEnv(t, "sqlite+disk", "DATA_DIR", dir, "UPLOAD_URL_TTL", ttl.String())
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "filegraph.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Begin() // IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	released := time.AfterFunc(hold, func() { lock.Rollback() })
	defer released.Stop()

	type answer struct {
		took, left time.Duration
		url        uploadURL
		err        string
	}
	answers := make([]answer, 50)
	var wg sync.WaitGroup
	for c := range answers {
		tok := token(t, fmt.Sprintf("clock-%d", c)) // on the test goroutine: token may t.Fatal
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"query": createQ, "variables": map[string]any{"files": []map[string]any{{"originalName": "c.txt", "size": 1}}}})
			req, _ := http.NewRequest("POST", e.URL+"/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			sent := time.Now()
			res, err := client.Do(req)
			if err != nil {
				answers[c].err = err.Error()
				return
			}
			var r struct {
				Data   struct{ CreateUploadUrls []uploadURL }
				Errors []gqlError
			}
			json.NewDecoder(res.Body).Decode(&r)
			res.Body.Close()
			arrived := time.Now()
			if len(r.Errors) > 0 || len(r.Data.CreateUploadUrls) != 1 {
				answers[c].err = fmt.Sprintf("%+v", r.Errors)
				return
			}
			u := r.Data.CreateUploadUrls[0]
			answers[c] = answer{took: arrived.Sub(sent), left: u.ExpiresAt.Sub(arrived), url: u}
		})
	}
	wg.Wait()
	shortest, quickest := time.Hour, time.Hour
	for _, a := range answers {
		if a.err != "" {
			t.Fatalf("createUploadUrls: %s", a.err)
		}
		shortest, quickest = min(shortest, a.left), min(quickest, a.took)
	}
	t.Logf("%d answers after %v or more; shortest remaining URL life on arrival %v (TTL %v)", len(answers), quickest.Round(time.Millisecond), shortest.Round(time.Millisecond), ttl)
	if quickest < hold-500*time.Millisecond {
		t.Fatalf("an answer came after %v, before the lock was released: the test shows nothing", quickest)
	}
	if shortest < ttl-time.Second-750*time.Millisecond {
		t.Errorf("a URL arrived with %v left of its %v life", shortest, ttl)
	}
	for _, a := range answers {
		row, err := e.srv.db.Ent.Upload.Query().Where(upload.FileName(a.url.FileName)).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if row.ExpiresAt.Add(FilesOptions(config.Config{}).ClockSkew).Before(a.url.ExpiresAt) {
			t.Errorf("upload %s: row expires %v, more than the sweeper's margin before its URL (%v)", a.url.FileName, row.ExpiresAt, a.url.ExpiresAt)
		}
	}
}

// TestDiskTransfersBoundedUnderLoad holds the disk store's PUT guards under
// the loads that once pinned the server: 200 uploads trickling a byte
// every 200ms, each cut off at its upload's deadline (URL lifetime plus
// save window) instead of staying open, and 100 more PUTs to one URL that
// is already streaming, each refused with 409 before its body is read.
// Nothing is left in the temporary folder afterwards.
func TestDiskTransfersBoundedUnderLoad(t *testing.T) {
	const ttl, window = 2 * time.Second, time.Second
	dir := t.TempDir()
	e := newEnv(t, "sqlite+disk", "DATA_DIR", dir, "UPLOAD_URL_TTL", ttl.String(), "UPLOAD_SAVE_WINDOW", window.String(), "SWEEP_INTERVAL", "0")
	var urls []uploadURL
	for range 4 {
		reqs := make([]map[string]any, 50)
		for i := range reqs {
			reqs[i] = map[string]any{"originalName": "slow.bin", "size": 1000}
		}
		urls = append(urls, e.createUploads(reqs...)...)
	}
	issued := time.Now()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 400}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	trickle := func(u uploadURL) (int, error) {
		pr, pw := io.Pipe()
		go func() {
			for {
				if _, err := pw.Write([]byte{'x'}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		defer pw.Close()
		req, _ := http.NewRequest(u.Method, u.URL, pr)
		req.ContentLength = 1000
		for _, h := range u.Headers {
			if h.Name != "Content-Length" {
				req.Header.Set(h.Name, h.Value)
			}
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	var (
		mu      sync.Mutex
		slow    = map[string]int{}
		lastEnd time.Time
		dup     = map[int]int{}
		dupSlow time.Duration
	)
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			code, err := trickle(u)
			mu.Lock()
			defer mu.Unlock()
			if now := time.Now(); now.After(lastEnd) {
				lastEnd = now
			}
			if err != nil {
				slow["connection closed"]++ // the server cut it before answering
			} else {
				slow[fmt.Sprint(code)]++
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // urls[0] is streaming
	for range 100 {
		wg.Go(func() {
			s := time.Now()
			code, err := trickle(urls[0])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dup[-1]++
			} else {
				dup[code]++
			}
			dupSlow = max(dupSlow, time.Since(s))
		})
	}
	wg.Wait()
	took := lastEnd.Sub(issued)
	t.Logf("200 trickling PUTs: %v, the last ended %v after the URLs were issued (deadline %v); 100 more to one URL: %v, slowest answer %v",
		slow, took.Round(10*time.Millisecond), ttl+window, dup, dupSlow.Round(time.Millisecond))
	if took > ttl+window+3*time.Second {
		t.Errorf("the trickling PUTs ran %v, past their uploads' deadline of %v", took, ttl+window)
	}
	if slow["200"] > 0 {
		t.Errorf("%d trickling PUTs were accepted", slow["200"])
	}
	if dup[http.StatusConflict] != 100 || dupSlow > 2*time.Second {
		t.Errorf("PUTs to a URL that is streaming: %v (slowest %v), want 100 × 409 at once", dup, dupSlow)
	}
	if left := tmpFiles(t, dir); len(left) > 0 {
		t.Errorf("left in the temporary folder: %v", left)
	}
}

// tmpFiles lists the files under DATA_DIR's storage/tmp, folders aside.
func tmpFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dataDir, "storage", "tmp"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out
}
