package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/testenv"
)

// hookLine is a line the receiver printed.
type hookLine struct {
	Listening int    `json:"listening"`
	ID        string `json:"id"`
	Type      string `json:"type"`
	File      string `json:"file"`
	Timestamp string `json:"timestamp"`
	Status    int    `json:"status"`
	Try       int    `json:"try"`
	At        int64  `json:"at"`
	Port      int    `json:"port"`
	Answered  string `json:"answered"`
	Bad       string `json:"bad"`
	Error     string `json:"error"`
}

// hookReceiver is scripts/events/webhook-receiver.mjs: a real HTTP server
// in Node that verifies each webhook with the standardwebhooks package.
type hookReceiver struct {
	url   string
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []hookLine
}

func newSecret() string {
	key := make([]byte, 32)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func startReceiver(t *testing.T, secret string, failFirst bool, delay time.Duration) *hookReceiver {
	t.Helper()
	ff := "0"
	if failFirst {
		ff = "1"
	}
	cmd := exec.Command("node", filepath.Join("scripts", "events", "webhook-receiver.mjs"), secret, ff, strconv.Itoa(int(delay.Milliseconds())))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{}
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("receiver stderr: %s", stderr.String())
		}
	})
	port := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l hookLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			if l.Listening > 0 {
				port <- l.Listening
				continue
			}
			r.mu.Lock()
			r.lines = append(r.lines, l)
			r.mu.Unlock()
		}
	}()
	select {
	case p := <-port:
		r.url = fmt.Sprintf("http://127.0.0.1:%d/hooks/filegraph", p)
	case <-time.After(15 * time.Second):
		t.Fatalf("the receiver did not start: %s", stderr.String())
	}
	return r
}

func (r *hookReceiver) snapshot() []hookLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// answer makes the receiver answer status to every try from now on.
func (r *hookReceiver) answer(t *testing.T, status int) {
	t.Helper()
	if _, err := fmt.Fprintf(r.stdin, "status %d\n", status); err != nil {
		t.Fatal(err)
	}
}

// saveBatch uploads n small files through p in one createUploadUrls and
// one saveFiles (the PUTs in parallel), and returns their ids.
func (p *process) saveBatch(n int, prefix string) ([]string, error) {
	var c struct {
		Data struct {
			CreateUploadUrls []struct {
				FileName, URL, Method string
				Headers               []storage.Header
			}
		}
		Errors []json.RawMessage
	}
	reqs := make([]map[string]any, n)
	for i := range reqs {
		reqs[i] = map[string]any{"originalName": fmt.Sprintf("%s-%d.txt", prefix, i), "size": 5}
	}
	if err := p.post(`mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName url method headers { name value } } }`, map[string]any{"f": reqs}, &c); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, u := range c.Data.CreateUploadUrls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(u.Method, u.URL, strings.NewReader("hello"))
			for _, h := range u.Headers {
				req.Header.Set(h.Name, h.Value)
			}
			res, err := client.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = fmt.Errorf("PUT: %d", res.StatusCode)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	save := make([]map[string]any, n)
	for i, u := range c.Data.CreateUploadUrls {
		save[i] = map[string]any{"fileName": u.FileName, "originalName": reqs[i]["originalName"]}
	}
	var s struct {
		Data   struct{ SaveFiles []struct{ ID string } }
		Errors []json.RawMessage
	}
	if err := p.post(`mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id } }`, map[string]any{"f": save}, &s); err != nil {
		return nil, err
	}
	ids := make([]string, len(s.Data.SaveFiles))
	for i, f := range s.Data.SaveFiles {
		ids[i] = f.ID
	}
	return ids, nil
}

// post runs GraphQL from any goroutine; GraphQL errors are errors.
func (p *process) post(query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := client.Post(p.base+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct{ Errors []json.RawMessage }
	if json.Unmarshal(b, &e) != nil || len(e.Errors) > 0 {
		return fmt.Errorf("%s: %s", query, b)
	}
	return json.Unmarshal(b, out)
}

// portsTo lists the local TCP ports of process pid's connections to
// remote port: which of a receiver's connections are that process's. It
// reads /proc (Linux), as testenv finds a listening port.
func portsTo(t *testing.T, pid, remote int) map[int]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	ports := map[int]bool{}
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || !inodes[f[9]] {
			continue
		}
		_, lp, _ := strings.Cut(f[1], ":")
		_, rp, _ := strings.Cut(f[2], ":")
		l, _ := strconv.ParseUint(lp, 16, 16)
		r, _ := strconv.ParseUint(rp, 16, 16)
		if int(r) == remote {
			ports[int(l)] = true
		}
	}
	return ports
}

// Two replicas of the binary on one PostgreSQL deliver a burst of 500
// events (300 files saved, 200 of them deleted, all through replica b) to
// a receiver that verifies every POST with the standardwebhooks package,
// answers 500 to each event's first try and 200 to the next, and holds
// each answer 200 ms. Replica a is killed with SIGKILL while POSTs of its
// own are in flight. Afterwards every event was accepted (200), under one
// webhook-id each and no id of its own per try, none missing, each file's
// saved before its deleted; the POSTs a had in flight were sent again by b.
func TestWebhooksSurviveAKilledReplica(t *testing.T) {
	d := newDeployment(t)
	secret := newSecret()
	r := startReceiver(t, secret, true, 200*time.Millisecond)
	hooks := []string{"WEBHOOK_URL=" + r.url, "WEBHOOK_SECRET=" + secret, "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_TIMEOUT=2s"}
	a, b := d.start(hooks...), d.start(hooks...)
	u := r.url[strings.LastIndex(r.url, ":")+1:]
	rport, _ := strconv.Atoi(u[:strings.Index(u, "/")])

	burst := make(chan error, 1)
	go func() {
		var ids []string
		for i := range 30 {
			got, err := b.saveBatch(10, fmt.Sprintf("burst%02d", i))
			if err != nil {
				burst <- err
				return
			}
			ids = append(ids, got...)
		}
		for _, id := range ids[:200] {
			var out struct{ Data struct{ DeleteFile string } }
			if err := b.post(`mutation($id: ID!) { deleteFile(id: $id) }`, map[string]any{"id": id}, &out); err != nil {
				burst <- err
				return
			}
		}
		burst <- nil
	}()

	// Kill a once the receiver has accepted 100 events and holds POSTs
	// that came over a's connections.
	var inFlight []string // webhook-ids a had in flight when killed
	deadline := time.Now().Add(60 * time.Second)
	for inFlight == nil {
		if time.Now().After(deadline) {
			t.Fatalf("replica a never had a POST in flight after 100 accepted:\n%s", a.out)
		}
		lines := r.snapshot()
		accepted := 0
		open := map[int][]string{} // sender port -> ids held
		for _, l := range lines {
			switch {
			case l.ID != "":
				open[l.Port] = append(open[l.Port], l.ID)
				if l.Status == 200 {
					accepted++
				}
			case l.Answered != "":
				open[l.Port] = slices.DeleteFunc(open[l.Port], func(id string) bool { return id == l.Answered })
			}
		}
		if accepted >= 100 {
			var held []string
			for p := range portsTo(t, a.cmd.Process.Pid, rport) {
				held = append(held, open[p]...)
			}
			if len(held) > 0 {
				if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				inFlight = held
				t.Logf("killed replica a with %d POSTs in flight, %d events accepted", len(held), accepted)
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-burst; err != nil {
		t.Fatal(err)
	}

	// The events as the outbox has them, in commit order.
	type ev struct{ id, typ, file string }
	var events []ev
	rows, err := d.db.Query(`SELECT public_id, type, file_id FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e ev
		rows.Scan(&e.id, &e.typ, &e.file)
		events = append(events, e)
	}
	rows.Close()
	if len(events) != 500 {
		t.Fatalf("the outbox has %d events, want 500", len(events))
	}
	accepted := func() map[string]bool {
		m := map[string]bool{}
		for _, l := range r.snapshot() {
			if l.Status == 200 {
				m[l.ID] = true
			}
		}
		return m
	}
	deadline = time.Now().Add(90 * time.Second)
	for len(accepted()) < len(events) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s the receiver accepted %d of %d events", len(accepted()), len(events))
		}
		time.Sleep(50 * time.Millisecond)
	}

	lines := r.snapshot()
	byEvent := map[string]map[string]bool{} // type/file -> webhook-ids
	firstOK := map[string]int{}             // webhook-id -> line of its first 200
	tries := map[string][]hookLine{}
	for i, l := range lines {
		if l.Bad != "" {
			t.Fatalf("a webhook failed standardwebhooks' verification: %s", l.Error)
		}
		if l.ID == "" {
			continue
		}
		k := l.Type + "/" + l.File
		if byEvent[k] == nil {
			byEvent[k] = map[string]bool{}
		}
		byEvent[k][l.ID] = true
		tries[l.ID] = append(tries[l.ID], l)
		if _, ok := firstOK[l.ID]; !ok && l.Status == 200 {
			firstOK[l.ID] = i
		}
	}
	lastOfFile := map[string]int{}
	for _, e := range events {
		if ids := byEvent[e.typ+"/"+e.file]; len(ids) != 1 || !ids[e.id] {
			t.Errorf("%s of %s came under webhook-ids %v, want only %s", e.typ, e.file, ids, e.id)
		}
		if tries[e.id][0].Status != 500 {
			t.Errorf("event %s: the first try was answered %d, want 500", e.id, tries[e.id][0].Status)
		}
		at, ok := firstOK[e.id]
		if !ok {
			t.Errorf("event %s (%s of %s) was never accepted", e.id, e.typ, e.file)
			continue
		}
		if prev, ok := lastOfFile[e.file]; ok && prev > at {
			t.Errorf("file %s: %s accepted before the event committed ahead of it", e.file, e.typ)
		}
		lastOfFile[e.file] = at
	}
	if len(byEvent) != len(events) {
		t.Errorf("the receiver saw %d events, the outbox has %d", len(byEvent), len(events))
	}
	for _, id := range inFlight {
		if n := len(tries[id]); n < 2 {
			t.Errorf("event %s, in flight from the killed replica, was POSTed %d times: want it sent again", id, n)
		}
	}
	// The last 200s are written down once their answers arrive.
	testenv.WaitFor(t, "every delivery row delivered", func() bool {
		var left int
		err := d.db.QueryRow(`SELECT count(*) FROM deliveries WHERE status <> 'delivered'`).Scan(&left)
		return err == nil && left == 0
	})
	posts := 0
	for _, ts := range tries {
		posts += len(ts)
	}
	t.Logf("%d events, %d POSTs; %d in flight from the killed replica, all sent again", len(events), posts, len(inFlight))
}

// A webhook URL on a private address stops the server at start, named as
// a misconfiguration, unless WEBHOOK_ALLOW_PRIVATE; a delivery that fails
// for WEBHOOK_RETRY_FOR is listed by `filegraph webhooks` and sent again by
// `filegraph webhooks retry -all` (and by ID).
func TestWebhookStartCheckAndCLI(t *testing.T) {
	d := newDeployment(t)
	secret := newSecret()
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://localhost:8080/"} {
		out, err := d.command("serve", "-webhook-url", u, "-webhook-secret", secret, "-addr", "127.0.0.1:0")
		if err == nil || !strings.Contains(out, "configuration: WEBHOOK_URL: ") || !strings.Contains(out, "WEBHOOK_ALLOW_PRIVATE=true") {
			t.Errorf("%s: %v\n%s", u, err, out)
		}
	}
	out, err := d.command("serve", "-webhook-url", "https://hooks.example/", "-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "WEBHOOK_SECRET: is needed with WEBHOOK_URL") {
		t.Errorf("no secret: %v\n%s", err, out)
	}

	r := startReceiver(t, secret, false, 0)
	r.answer(t, 503)
	p := d.start("WEBHOOK_URL="+r.url, "WEBHOOK_SECRET="+secret, "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_TIMEOUT=1s", "WEBHOOK_RETRY_FOR=3s")
	f := p.upload(t, "a.txt", []byte("hello"))
	testenv.WaitFor(t, "the delivery given up", func() bool {
		var n int
		d.db.QueryRow(`SELECT count(*) FROM deliveries WHERE status = 'failed'`).Scan(&n)
		return n == 1
	})
	metrics := func() string {
		res, err := client.Get("http://" + loggedAddr(p.out.String(), "metrics.listening") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	receiver := r.url[:strings.Index(r.url, "/hooks")]
	for _, want := range []string{
		`filegraph_webhook_deliveries_failed_total{receiver="` + receiver + `"} 1`,
		`filegraph_webhook_deliveries_pending 0`,
		`filegraph_webhook_oldest_pending_age_seconds 0`,
		`filegraph_webhook_attempts_total{outcome="http_5xx",receiver="` + receiver + `"}`,
	} {
		if m := metrics(); !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	out, err = d.command("webhooks")
	if err != nil || !strings.Contains(out, "file.saved") || !strings.Contains(out, r.url) || !strings.Contains(out, "HTTP 503: not now") || !strings.Contains(out, "failed deliveries: 1") {
		t.Fatalf("filegraph webhooks: %v\n%s", err, out)
	}
	if out, err := d.command("webhooks", "retry", "12345"); err == nil || !strings.Contains(out, "no failed delivery has that id") {
		t.Errorf("retry of no delivery: %v\n%s", err, out)
	}
	r.answer(t, 200)
	if out, err := d.command("webhooks", "retry", "-all"); err != nil || !strings.Contains(out, "deliveries sent back to pending: 1") {
		t.Fatalf("retry -all: %v\n%s", err, out)
	}
	testenv.WaitFor(t, "the retried delivery delivered", func() bool {
		for _, l := range r.snapshot() {
			if l.Status == 200 && l.File == f.ID {
				return true
			}
		}
		return false
	})
	out, err = d.command("webhooks")
	if err != nil || !strings.Contains(out, "failed deliveries: 0") {
		t.Errorf("filegraph webhooks after the retry: %v\n%s", err, out)
	}
	testenv.WaitFor(t, "the delivery counted", func() bool {
		return strings.Contains(metrics(), `filegraph_webhook_deliveries_delivered_total{receiver="`+receiver+`"} 1`)
	})
	if m := metrics(); !strings.Contains(m, `filegraph_webhook_delivery_latency_seconds_count{receiver="`+receiver+`"} 1`) {
		t.Error("the delivery's latency was not observed")
	}
}

// Commit-to-webhook latency at a steady rate of events (default 200/s for
// 3s; FILEGRAPH_WEBHOOK_RATE and FILEGRAPH_WEBHOOK_DURATION change it):
// files saved 10 to a saveFiles through two replicas on one PostgreSQL,
// to a receiver verifying with standardwebhooks that answers 200 at once.
// Every event must arrive; the figures are logged (an event's timestamp is
// its write, just before its commit; the receiver's clock is the same
// machine's).
func TestWebhookLatency(t *testing.T) {
	rate, duration := 200, 3*time.Second
	if v := os.Getenv("FILEGRAPH_WEBHOOK_RATE"); v != "" {
		rate, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("FILEGRAPH_WEBHOOK_DURATION"); v != "" {
		duration, _ = time.ParseDuration(v)
	}
	d := newDeployment(t)
	secret := newSecret()
	r := startReceiver(t, secret, false, 0)
	hooks := []string{"WEBHOOK_URL=" + r.url, "WEBHOOK_SECRET=" + secret, "WEBHOOK_ALLOW_PRIVATE=true"}
	replicas := []*process{d.start(hooks...), d.start(hooks...)}

	const batch = 10
	tick := time.NewTicker(time.Second * batch / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	start := time.Now()
	n := 0
	for time.Since(start) < duration {
		<-tick.C
		p := replicas[n%2]
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.saveBatch(batch, "lat"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := n * batch
	testenv.WaitFor(t, fmt.Sprintf("%d webhooks", want), func() bool {
		got := 0
		for _, l := range r.snapshot() {
			if l.Status == 200 {
				got++
			}
		}
		return got >= want
	})
	var lat []time.Duration
	seen := map[string]bool{}
	for _, l := range r.snapshot() {
		if l.Bad != "" {
			t.Fatalf("a webhook failed verification: %s", l.Error)
		}
		if l.Status != 200 || seen[l.ID] {
			continue
		}
		seen[l.ID] = true
		ts, err := time.Parse(time.RFC3339Nano, l.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.UnixMilli(l.At).Sub(ts))
	}
	if len(seen) != want {
		t.Fatalf("%d distinct events received, %d saved", len(seen), want)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("%d events in %v (%.0f/s) over 2 replicas: commit-to-webhook p50 %v, p90 %v, p99 %v, max %v",
		want, took.Round(time.Millisecond), float64(want)/took.Seconds(), q(.5), q(.9), q(.99), lat[len(lat)-1])
}

// On SQLite + disk there is one process. Killed with SIGKILL while POSTs
// of a burst of 100 events (60 files saved, 40 of them deleted) are in
// flight, and started again on the same DATA_DIR, it sends what it had
// claimed once the claims' leases have run out: every event accepted by
// the receiver (standardwebhooks, 500 to each first try), one webhook-id
// each, each file's saved before its deleted.
func TestWebhooksOnSQLiteAcrossARestart(t *testing.T) {
	d, _ := diskDeployment(t)
	secret := newSecret()
	r := startReceiver(t, secret, true, 200*time.Millisecond)
	hooks := []string{"WEBHOOK_URL=" + r.url, "WEBHOOK_SECRET=" + secret, "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_TIMEOUT=2s"}
	p := d.start(hooks...)
	var ids []string
	for i := range 6 {
		got, err := p.saveBatch(10, fmt.Sprintf("sqlite%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	for _, id := range ids[:40] {
		var out struct{ Data struct{ DeleteFile string } }
		if err := p.post(`mutation($id: ID!) { deleteFile(id: $id) }`, map[string]any{"id": id}, &out); err != nil {
			t.Fatal(err)
		}
	}
	var held []string
	testenv.WaitFor(t, "POSTs in flight after 20 accepted", func() bool {
		open := map[string]bool{}
		accepted := 0
		for _, l := range r.snapshot() {
			switch {
			case l.ID != "":
				open[l.ID] = true
				if l.Status == 200 {
					accepted++
				}
			case l.Answered != "":
				delete(open, l.Answered)
			}
		}
		if accepted < 20 || len(open) == 0 {
			return false
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		for id := range open {
			held = append(held, id)
		}
		return true
	})
	p.cmd.Wait()
	t.Logf("killed with %d POSTs in flight", len(held))
	d.start(hooks...)

	want := map[string]bool{}
	for i, id := range ids {
		want["file.saved/"+id] = true
		if i < 40 {
			want["file.deleted/"+id] = true
		}
	}
	accepted := func() map[string]map[string]bool {
		m := map[string]map[string]bool{}
		for _, l := range r.snapshot() {
			if l.Bad != "" {
				t.Fatalf("a webhook failed standardwebhooks' verification: %s", l.Error)
			}
			if l.ID == "" {
				continue
			}
			k := l.Type + "/" + l.File
			if m[k] == nil {
				m[k] = map[string]bool{}
			}
			if l.Status == 200 {
				m[k][l.ID] = true
			}
		}
		return m
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, n := accepted(), 0
		for k := range want {
			if len(m[k]) > 0 {
				n++
			}
		}
		if n == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d events were accepted", n, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	lines := r.snapshot()
	idsOf := map[string]map[string]bool{} // type/file -> webhook-ids, every try
	keyOf := map[string]string{}          // webhook-id -> type/file
	first := map[string]int{}             // type/file -> line of its first 200
	posts := map[string]int{}
	for i, l := range lines {
		if l.ID == "" {
			continue
		}
		k := l.Type + "/" + l.File
		if idsOf[k] == nil {
			idsOf[k] = map[string]bool{}
		}
		idsOf[k][l.ID] = true
		if prev, ok := keyOf[l.ID]; ok && prev != k {
			t.Errorf("webhook-id %s carried %s and %s", l.ID, prev, k)
		}
		keyOf[l.ID] = k
		posts[l.ID]++
		if _, ok := first[k]; !ok && l.Status == 200 {
			first[k] = i
		}
	}
	for k := range want {
		if len(idsOf[k]) != 1 {
			t.Errorf("%s came under %d webhook-ids", k, len(idsOf[k]))
		}
	}
	if len(idsOf) != len(want) {
		t.Errorf("the receiver saw %d events, want %d", len(idsOf), len(want))
	}
	for _, id := range ids[:40] {
		if first["file.saved/"+id] > first["file.deleted/"+id] {
			t.Errorf("file %s: deleted accepted before saved", id)
		}
	}
	for _, id := range held {
		if posts[id] < 2 {
			t.Errorf("webhook %s, in flight at the kill, was POSTed %d times", id, posts[id])
		}
	}
}

// hungPost is a POST a hanging receiver read and never answered.
type hungPost struct {
	id              string // webhook-id
	arrived, closed time.Time
}

// hangingReceiver is a TCP server that reads each request and never
// answers; it notes when the sender gives up and closes the connection.
type hangingReceiver struct {
	url   string
	mu    sync.Mutex
	posts []*hungPost
}

func startHangingReceiver(t *testing.T) *hangingReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &hangingReceiver{url: "http://" + ln.Addr().String() + "/hooks"}
	var conns sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					p := &hungPost{id: req.Header.Get("webhook-id"), arrived: time.Now()}
					io.Copy(io.Discard, req.Body)
					r.mu.Lock()
					r.posts = append(r.posts, p)
					r.mu.Unlock()
					// Never answered: the next read ends when the sender
					// closes the connection.
					br.ReadByte()
					r.mu.Lock()
					p.closed = time.Now()
					r.mu.Unlock()
					return
				}
			})
		}
	}()
	return r
}

// snapshot copies the POSTs so far and counts those still open.
func (r *hangingReceiver) snapshot() (posts []hungPost, open int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.posts {
		posts = append(posts, *p)
		if p.closed.IsZero() {
			open++
		}
	}
	return posts, open
}

// A receiver that accepts and never answers does not hold saveFiles up
// (SQLite + disk, where claims and saves share the one write queue): with
// every delivery slot (32) stuck on it, 30 more files are saved, and all
// of it before any stuck POST is given up; then a POST is cut at
// WEBHOOK_TIMEOUT (not within half of it) and its event sent again, under the same
// webhook-id. The slots are never exceeded.
func TestWebhookReceiverThatHangs(t *testing.T) {
	d, _ := diskDeployment(t)
	r := startHangingReceiver(t)
	const timeout = 10 * time.Second
	p := d.start("WEBHOOK_URL="+r.url, "WEBHOOK_SECRET="+newSecret(), "WEBHOOK_ALLOW_PRIVATE=true",
		"WEBHOOK_TIMEOUT="+timeout.String())
	for i := range 4 {
		if _, err := p.saveBatch(10, fmt.Sprintf("before%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, "32 POSTs stuck", func() bool {
		_, open := r.snapshot()
		if open > 32 {
			t.Fatalf("%d POSTs in flight to one receiver, at most 32 allowed", open)
		}
		return open == 32
	})
	stuck, _ := r.snapshot()
	start := time.Now()
	saved := make(chan error, 1)
	go func() {
		for i := range 3 {
			if _, err := p.saveBatch(10, fmt.Sprintf("during%d", i)); err != nil {
				saved <- err
				return
			}
		}
		saved <- nil
	}()
	select {
	case err := <-saved:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("30 files not saved within a minute while the receiver hangs")
	}
	took := time.Since(start)
	posts, open := r.snapshot()
	if open > 32 {
		t.Fatalf("%d POSTs in flight to one receiver, at most 32 allowed", open)
	}
	for _, s := range posts[:len(stuck)] {
		if !s.closed.IsZero() && s.closed.Before(start.Add(took)) {
			t.Fatalf("a stuck POST was given up (after %v) before the saves ended (%v): the saves were not shown to pass a hanging receiver", s.closed.Sub(s.arrived), took)
		}
	}
	t.Logf("30 files saved in %v with 32 POSTs stuck", took.Round(time.Millisecond))

	// Given up at WEBHOOK_TIMEOUT, and sent again.
	deadline := time.Now().Add(time.Minute)
	for {
		posts, open := r.snapshot()
		if open > 32 {
			t.Fatalf("%d POSTs in flight to one receiver, at most 32 allowed", open)
		}
		first := map[string]hungPost{}
		var retried *hungPost
		for _, q := range posts {
			if f, ok := first[q.id]; ok {
				retried = &f
				if q.arrived.Before(f.closed) || f.closed.IsZero() {
					t.Fatalf("event %s sent again while its first POST was open", q.id)
				}
				break
			}
			first[q.id] = q
		}
		if retried != nil {
			// Arrival is after the sender's clock started (dial, write),
			// so held reads a little under the timeout: cut within half
			// of it would be a defect.
			if held := retried.closed.Sub(retried.arrived); held < timeout/2 {
				t.Fatalf("a POST was given up after %v, before WEBHOOK_TIMEOUT (%v)", held, timeout)
			} else {
				t.Logf("a POST was given up after %v (WEBHOOK_TIMEOUT %v) and its event %s sent again", held.Round(time.Millisecond), timeout, retried.id)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event sent again within a minute (%d POSTs, %d open)", len(posts), open)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, q := range stuck {
		if q.id == "" {
			t.Fatal("a POST without webhook-id")
		}
	}
}
