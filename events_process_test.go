package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

// eventsSecret signs the tokens of the events tests (AUTH_JWT_SECRET).
const eventsSecret = "events-test-secret-events-test-secret"

func token(t *testing.T, user string, roles ...string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(eventsSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// subscriber is a Node process running a real graphql-ws or graphql-sse
// client (scripts/events/subscribe.mjs); lines has what it printed.
type subscriber struct {
	cmd   *exec.Cmd
	lines chan map[string]any
}

// collection, when given, is fileEvents' argument.
func subscribe(t *testing.T, mode, base, tok string, count int, collection ...string) *subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	args := append([]string{filepath.Join("scripts", "events", "subscribe.mjs"), mode, base, tok, fmt.Sprint(count)}, collection...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &subscriber{cmd: cmd, lines: make(chan map[string]any, 1024)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				s.lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s client stderr: %s", mode, stderr.String())
		}
	})
	return s
}

// next returns the next line the client printed, failing after a deadline.
func (s *subscriber) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m, ok := <-s.lines:
		if !ok {
			t.Fatal("the client exited")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("the client printed nothing for 30s")
	}
	return nil
}

// nextEvent skips to the next event the client received.
func (s *subscriber) nextEvent(t *testing.T) (ev map[string]any, at float64) {
	t.Helper()
	for {
		m := s.next(t)
		if e, ok := m["event"].(map[string]any); ok {
			return e, m["at"].(float64)
		}
		if m["error"] != nil || m["closed"] != nil || m["complete"] != nil {
			t.Fatalf("the subscription ended: %v", m)
		}
	}
}

// waitSubscriptions waits until the process serves n subscriptions, as
// its metrics say.
func (p *process) waitSubscriptions(t *testing.T, n int) {
	t.Helper()
	addr := loggedAddr(p.out.String(), "metrics.listening")
	if addr == "" {
		t.Fatal("no metrics listener logged")
	}
	want := fmt.Sprintf("filegraph_subscriptions %d\n", n)
	testenv.WaitFor(t, fmt.Sprintf("%d subscriptions", n), func() bool {
		res, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return bytes.Contains(b, []byte(want))
	})
}

// authed runs GraphQL as the token's user.
func (p *process) authed(t *testing.T, tok, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, p.base+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %v %s", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// uploadAs runs the browser's flow as the token's user, and returns the
// saved file's id with the time saveFiles answered.
func (p *process) uploadAs(t *testing.T, tok, name string, body []byte) (string, time.Time) {
	t.Helper()
	var c struct {
		CreateUploadUrls []struct {
			FileName, URL, Method string
			Headers               []storage.Header
		}
	}
	p.authed(t, tok, `mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName url method headers { name value } } }`,
		map[string]any{"f": []map[string]any{{"originalName": name, "size": len(body)}}}, &c)
	u := c.CreateUploadUrls[0]
	res := storagetest.Send(t, storage.Request{Method: u.Method, URL: u.URL, Header: u.Headers}, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	var s struct{ SaveFiles []struct{ ID string } }
	p.authed(t, tok, `mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id } }`,
		map[string]any{"f": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &s)
	return s.SaveFiles[0].ID, time.Now()
}

// Two replicas of the binary on one PostgreSQL: clients subscribed on one
// (graphql-ws and graphql-sse, in Node) get the events of an upload, its
// rename (updateFile) and its delete made on the other, in order, and only their own; a bad token in
// connection_init is closed with 4403.
func TestSubscriptionAcrossReplicas(t *testing.T) {
	d := newDeployment(t)
	auth := "AUTH_JWT_SECRET=" + eventsSecret
	a, b := d.start(auth), d.start(auth)
	alice, bob := token(t, "alice"), token(t, "bob")

	refused := subscribe(t, "ws", a.base, "not-a-token", 1)
	for {
		m := refused.next(t)
		if m["closed"] != nil {
			if m["closed"].(float64) != 4403 {
				t.Fatalf("a bad token was closed with %v", m)
			}
			break
		}
		if m["event"] != nil {
			t.Fatalf("a bad token got an event: %v", m)
		}
	}

	ws := subscribe(t, "ws", a.base, alice, 3)
	sse := subscribe(t, "sse", a.base, alice, 3)
	other := subscribe(t, "ws", a.base, bob, 1)
	a.waitSubscriptions(t, 3)

	id, _ := b.uploadAs(t, alice, "a.txt", []byte("alice's"))
	b.authed(t, alice, `mutation($id: ID!) { updateFile(id: $id, input: {originalName: "renamed.txt"}) { id } }`, map[string]any{"id": id}, nil)
	b.authed(t, alice, `mutation($id: ID!) { deleteFile(id: $id) }`, map[string]any{"id": id}, nil)
	bobs, _ := b.uploadAs(t, bob, "b.txt", []byte("bob's"))

	for name, s := range map[string]*subscriber{"graphql-ws": ws, "graphql-sse": sse} {
		var got []string
		for range 3 {
			ev, _ := s.nextEvent(t)
			got = append(got, fmt.Sprint(ev["type"], " ", ev["fileId"]))
			if ev["type"] == "DELETED" && ev["file"] != nil {
				t.Errorf("%s: a DELETED event has a file: %v", name, ev)
			}
		}
		if want := []string{"SAVED " + id, "UPDATED " + id, "DELETED " + id}; !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", name, got, want)
		}
	}
	// Bob's own event comes after Alice's: had he been sent hers, they
	// would have come first.
	if ev, _ := other.nextEvent(t); ev["fileId"] != bobs || ev["type"] != "SAVED" {
		t.Errorf("bob's first event is %v, want his own upload %s", ev, bobs)
	}
}

// Event latency at a steady 200 events/s (FILEGRAPH_EVENT_RATE and
// FILEGRAPH_EVENT_DURATION change it) across two replicas on PostgreSQL:
// commit on replica b -> a graphql-ws client on replica a, and commit ->
// a webhook receiver verifying with standardwebhooks (delivered by either
// replica). The events are file.updated, one updateFile each, over 200
// files uploaded first: the writers make events, not S3 PUTs, which on
// this shared machine capped saveFiles-made events at 50-140/s before the
// event path was loaded at all. Every event must reach the subscriber
// exactly once and the receiver at least once (answered 200), under the
// same id; the figures are logged. Both clocks are the machine's wall
// clock: the server's event time and Date.now() in Node.
func TestEventLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measures; -short skips it")
	}
	rate, duration := 200, 5*time.Second
	if v := os.Getenv("FILEGRAPH_EVENT_RATE"); v != "" {
		rate, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("FILEGRAPH_EVENT_DURATION"); v != "" {
		duration, _ = time.ParseDuration(v)
	}
	d := newDeployment(t)
	secret := newSecret()
	r := startReceiver(t, secret, false, 0)
	settings := []string{"AUTH_JWT_SECRET=" + eventsSecret, "WEBHOOK_URL=" + r.url, "WEBHOOK_SECRET=" + secret,
		"WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_EVENTS=file.updated"}
	a, b := d.start(settings...), d.start(settings...)
	alice := token(t, "alice")

	const files = 200
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			reqs := make([]map[string]any, files/4)
			for i := range reqs {
				reqs[i] = map[string]any{"originalName": fmt.Sprintf("seed-%d-%d.txt", w, i)}
			}
			got := b.uploadMany(t, alice, []byte("x"), reqs...)
			mu.Lock()
			ids = append(ids, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != files {
		t.Fatalf("%d files uploaded, %d asked", len(ids), files)
	}

	n := int(float64(rate) * duration.Seconds())
	s := subscribe(t, "ws", a.base, alice, n)
	a.waitSubscriptions(t, 1)
	type seen struct {
		id  string
		lat float64 // ms
	}
	got := make(chan []seen, 1)
	go func() {
		var evs []seen
		defer func() { got <- evs }()
		for len(evs) < n {
			m, ok := <-s.lines
			if !ok {
				return
			}
			e, ok := m["event"].(map[string]any)
			if !ok {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, e["at"].(string))
			if err != nil {
				return
			}
			evs = append(evs, seen{e["id"].(string), m["at"].(float64) - float64(at.UnixNano())/1e6})
		}
	}()

	// The writers: updateFile calls on b, started by a ticker and run by
	// a pool of connections kept open (http.Client's default keeps 2 idle
	// per host: at this rate most calls would dial).
	writer := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer writer.CloseIdleConnections()
	work := make(chan int, n)
	errs := make(chan error, n)
	for range 48 {
		wg.Go(func() {
			for i := range work {
				body, _ := json.Marshal(map[string]any{
					"query":     `mutation($id: ID!, $in: UpdateFileInput!) { updateFile(id: $id, input: $in) { id } }`,
					"variables": map[string]any{"id": ids[i%files], "in": map[string]any{"originalName": fmt.Sprintf("r%d.txt", i)}},
				})
				req, _ := http.NewRequest(http.MethodPost, b.base+"/query", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+alice)
				res, err := writer.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
					errs <- fmt.Errorf("updateFile: %d %s", res.StatusCode, out)
				}
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for i := range n {
		<-tick.C
		work <- i
	}
	tick.Stop()
	close(work)
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var subs []seen
	select {
	case subs = <-got:
	case <-time.After(30 * time.Second):
		t.Fatalf("the subscriber got fewer than %d events in 30s", n)
	}
	if len(subs) != n {
		t.Fatalf("the subscriber got %d of %d events", len(subs), n)
	}
	ids2 := map[string]bool{}
	for _, e := range subs {
		if ids2[e.id] {
			t.Fatalf("event %s reached the subscriber twice", e.id)
		}
		ids2[e.id] = true
	}
	accepted := func() map[string]hookLine {
		first := map[string]hookLine{}
		for _, l := range r.snapshot() {
			if l.Status == 200 && l.Type == "file.updated" {
				if _, ok := first[l.ID]; !ok {
					first[l.ID] = l
				}
			}
		}
		return first
	}
	testenv.WaitFor(t, fmt.Sprintf("%d webhooks", n), func() bool { return len(accepted()) >= n })
	hooks := accepted()
	var subLat, hookLat []float64
	for _, e := range subs {
		subLat = append(subLat, e.lat)
		l, ok := hooks[e.id]
		if !ok {
			t.Fatalf("event %s reached the subscriber, not the webhook", e.id)
		}
		ts, err := time.Parse(time.RFC3339Nano, l.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		hookLat = append(hookLat, float64(l.At)-float64(ts.UnixNano())/1e6)
	}
	for _, l := range r.snapshot() {
		if l.Bad != "" {
			t.Fatalf("a webhook failed verification: %s", l.Error)
		}
	}
	if len(hooks) != n {
		t.Fatalf("%d distinct events accepted by the webhook, %d written", len(hooks), n)
	}
	q := func(v []float64, p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	slices.Sort(subLat)
	slices.Sort(hookLat)
	t.Logf("%d file.updated events at %.0f events/s (%d asked), written on b: commit -> graphql-ws client on a: p50 %.1f ms, p99 %.1f ms, max %.1f ms; commit -> webhook (either replica): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		n, float64(n)/took.Seconds(), rate, q(subLat, .5), q(subLat, .99), subLat[len(subLat)-1], q(hookLat, .5), q(hookLat, .99), hookLat[len(hookLat)-1])
}
