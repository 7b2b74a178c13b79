package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
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
// (10 files) → PUT each → save, over and over until the time is up and at
// least min flows have completed. Busy is not broken: every answer must be
// a success or UNAVAILABLE. What must hold is counted; rates and latencies
// are only logged (a shared machine under -race makes them say nothing).
type pressure struct {
	clients  int
	duration time.Duration
	files    int // per flow
	min      int // flows that must complete, however long they take (up to a minute more)

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
	// The crowd runs for its duration and on until min flows have
	// completed, so that a slow machine makes the test slower, not red; a
	// server that completes none still fails, after giveUp.
	deadline := time.Now().Add(p.duration)
	giveUp := deadline.Add(time.Minute)
	more := func() bool {
		now := time.Now()
		if now.Before(deadline) {
			return true
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.flows) < p.min && now.Before(giveUp)
	}
	stopPolls := make(chan struct{})
	var polls sync.WaitGroup
	if readiness != nil {
		polls.Go(func() { readiness.poll(e.URL, stopPolls) })
	}
	var wg sync.WaitGroup
	for c := range p.clients {
		tok := token(t, fmt.Sprintf("writer-%d", c)) // on the test goroutine: token may t.Fatal
		wg.Go(func() {
			for i := 0; more(); i++ {
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
// on fewer than min completed flows, and on storage and database that
// disagree; it logs the figures.
func (p *pressure) check(t *testing.T, e *env) {
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
		// The client sees only "internal server error": the cause is in the log.
		var errs []string
		for line := range strings.Lines(e.logs.String()) {
			if strings.Contains(line, "level=ERROR") && len(errs) < 10 {
				errs = append(errs, strings.TrimSpace(line))
			}
		}
		t.Logf("the server's errors (first %d):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	if len(p.flows) < p.min {
		t.Errorf("%d flows completed, want at least %d", len(p.flows), p.min)
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
	p := &pressure{clients: 200, duration: pressureDuration(t, 8*time.Second), files: 10, min: 20}
	var ready readinessPolls
	p.run(t, e, &ready)
	p.check(t, e)
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

	// A write after the crowd has gone lets the checkpoint reset the log,
	// which journal_size_limit then truncates. The reset needs a moment no
	// reader holds an old snapshot (the server's own pollers read too), so
	// a few writes are allowed for it; a log that never shrinks fails.
	wal := filepath.Join(dir, "filegraph.db-wal")
	var size int64
	for i := range 50 {
		e.as(token(t, "writer-0")).upload(fmt.Sprintf("after-%d.txt", i), "text/plain", []byte("after"))
		fi, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		if size = fi.Size(); size <= 4<<20 {
			t.Logf("WAL after the pressure and %d more writes: %d bytes", i+1, size)
			break
		}
	}
	if size > 4<<20 {
		t.Errorf("the write-ahead log is %d bytes after the load and 50 more writes, over its 4 MiB limit", size)
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
	p := &pressure{clients: 50, duration: pressureDuration(t, 5*time.Second), files: 10, min: 1}
	var ready readinessPolls
	p.run(t, e, &ready)
	p.check(t, e)
	ready.check(t)
	if p.outcomes["createUploadUrls UNAVAILABLE"]+p.outcomes["saveFiles UNAVAILABLE"] == 0 {
		t.Log("no request met a refused connection this run")
	}
}

// TestUploadURLLifeAfterDatabaseWait: while the database's write slot is
// held (as a long save holds it), 50 clients ask for upload URLs with a 3s
// lifetime. All of them wait for the slot (counted on the goroutines'
// stacks, not assumed after a sleep), and it is freed a while later.
// Every URL still expires a full lifetime after the slot was freed (less
// the second the disk store rounds its expiry down to), because it is
// signed after its row is written; signed on arrival, it would expire over
// a second earlier. No URL outlives its row's expiry by more than the
// sweeper's ClockSkew margin, so nothing sweeps an upload whose URL still
// works. How long the answers took is logged, not judged.
func TestUploadURLLifeAfterDatabaseWait(t *testing.T) {
	const ttl = 3 * time.Second
	e := newAuthEnv(t, "sqlite+disk", "UPLOAD_URL_TTL", ttl.String())
	held, err := e.srv.db.Ent.Tx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()

	type answer struct {
		left time.Duration // of the URL's life when the answer arrived
		url  uploadURL
		err  string
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
			answers[c] = answer{left: u.ExpiresAt.Sub(arrived), url: u}
		})
	}
	// (Should they never all queue, the deferred Rollback frees the slot
	// and the server's test cleanup waits for them.)
	testenv.WaitFor(t, fmt.Sprintf("%d requests to wait for the write slot", len(answers)), func() bool { return queuedWriters() >= len(answers) })
	// The gap a URL signed on arrival would lose; a slow machine only
	// widens it.
	time.Sleep(1500 * time.Millisecond)
	freed := time.Now()
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	shortest := time.Hour
	for _, a := range answers {
		if a.err != "" {
			t.Fatalf("createUploadUrls: %s", a.err)
		}
		shortest = min(shortest, a.left)
		if earliest := freed.Add(ttl - time.Second); a.url.ExpiresAt.Before(earliest) {
			t.Errorf("upload %s: URL expires %v, before %v (its %v life after the write slot was freed): signed before its row was written",
				a.url.FileName, a.url.ExpiresAt, earliest, ttl)
		}
	}
	t.Logf("%d answers; shortest remaining URL life on arrival %v (TTL %v)", len(answers), shortest.Round(time.Millisecond), ttl)
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

// queuedWriters counts the goroutines waiting for SQLite's write slot
// (internal/database's writeQueue), read from their stacks: a barrier on
// what the server is doing rather than a sleep that hopes it is done.
func queuedWriters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "database.(*writeQueue).acquire(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestDiskTransfersBoundedUnderLoad holds the disk store's PUT guards under
// the loads that once pinned the server: 200 uploads trickling a byte
// every 200ms, each ended by the server (cut at its upload's deadline, URL
// lifetime plus save window, or refused for want of room) instead of
// staying open until the client gives up (the whole body would take 200s);
// and, on a server whose URLs outlive the test, 100 more PUTs to one URL
// that is streaming, each refused with 409 before its body is read (read,
// it would take as long). Nothing is left in the temporary folder
// afterwards. The times are logged, not judged: who ended each PUT, and
// how, is what is asserted.
func TestDiskTransfersBoundedUnderLoad(t *testing.T) {
	// The client would wait far past the uploads' deadline: a PUT it ends
	// is one the server did not. Each PUT asks to continue before its body
	// (Expect: 100-continue), so a PUT refused before its body is read gets
	// its answer, not a connection closed while it was still sending.
	const patience = 60 * time.Second
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 400, ExpectContinueTimeout: patience}, Timeout: patience}
	defer hc.CloseIdleConnections()
	// trickle PUTs to u a byte every 200ms until the server answers or
	// stop is closed.
	trickle := func(u uploadURL, stop <-chan struct{}) (string, error) {
		pr, pw := io.Pipe()
		go func() {
			for {
				if _, err := pw.Write([]byte{'x'}); err != nil {
					return
				}
				select {
				case <-stop:
					pw.CloseWithError(errors.New("stopped"))
					return
				case <-time.After(200 * time.Millisecond):
				}
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
		req.Header.Set("Expect", "100-continue")
		res, err := hc.Do(req)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "client gave up", nil
		case err != nil:
			return "connection closed", err // the server cut it before answering
		}
		res.Body.Close()
		return fmt.Sprint(res.StatusCode), nil
	}

	t.Run("deadline", func(t *testing.T) {
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
		var (
			mu      sync.Mutex
			ended   = map[string]int{}
			lastEnd time.Time
		)
		var wg sync.WaitGroup
		for _, u := range urls {
			wg.Go(func() {
				how, _ := trickle(u, nil)
				mu.Lock()
				defer mu.Unlock()
				if now := time.Now(); now.After(lastEnd) {
					lastEnd = now
				}
				ended[how]++
			})
		}
		wg.Wait()
		t.Logf("200 trickling PUTs: %v, the last ended %v after the URLs were issued (deadline %v)",
			ended, lastEnd.Sub(issued).Round(10*time.Millisecond), ttl+window)
		if n := ended["client gave up"]; n > 0 {
			t.Errorf("%d trickling PUTs ran on until the client gave up after %v: the server did not end them at their deadline", n, patience)
		}
		if ended["200"] > 0 {
			t.Errorf("%d trickling PUTs were accepted", ended["200"])
		}
		if left := testenv.TmpFiles(t, dir); len(left) > 0 {
			t.Errorf("left in the temporary folder: %v", left)
		}
	})

	t.Run("one URL", func(t *testing.T) {
		dir := t.TempDir()
		e := newEnv(t, "sqlite+disk", "DATA_DIR", dir, "UPLOAD_URL_TTL", "10m", "SWEEP_INTERVAL", "0")
		u := e.createUploads(map[string]any{"originalName": "slow.bin", "size": 1000})[0]
		stop := make(chan struct{})
		first := make(chan string, 1)
		go func() { how, _ := trickle(u, stop); first <- how }()
		defer func() {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}()
		testenv.WaitFor(t, "the first PUT's temporary file", func() bool { return len(testenv.TmpFiles(t, dir)) > 0 })
		var (
			mu      sync.Mutex
			dup     = map[string]int{}
			dupSlow time.Duration
		)
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				s := time.Now()
				how, _ := trickle(u, nil)
				mu.Lock()
				defer mu.Unlock()
				dup[how]++
				dupSlow = max(dupSlow, time.Since(s))
			})
		}
		wg.Wait()
		close(stop)
		how := <-first
		t.Logf("100 more PUTs to a URL that is streaming: %v, slowest answer %v; the first PUT, stopped: %s", dup, dupSlow.Round(time.Millisecond), how)
		if dup["409"] != 100 {
			t.Errorf("PUTs to a URL that is streaming: %v, want 100 × 409", dup)
		}
		if how == "200" {
			t.Error("the first PUT, cut short, was accepted")
		}
		testenv.WaitFor(t, "the temporary folder to empty", func() bool { return len(testenv.TmpFiles(t, dir)) == 0 })
	})
}
