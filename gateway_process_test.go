package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

const gatewaySecret = "gateway-test-secret-gateway-test-secret"

// meQ is what an app asks its supergraph: its own User (the users
// subgraph) with its avatar and files (Filegraph's, by reference).
const meQ = `{ me { avatar { originalName size downloadUrl { url } } files { id originalName } } }`

// TestGateway runs a supergraph for real: the Filegraph binary on each
// backend, the users subgraph (web/federation/users.mjs) and
// @apollo/gateway composing both from their _service SDL
// (IntrospectAndCompose; Filegraph's introspection is off, as in
// production), forwarding the client's bearer token. Through the gateway
// a user gets their avatar's name, size and a link that downloads its
// bytes, and their files; a file of another user's is null; no token is
// UNAUTHENTICATED; the 100 references of a list reach Filegraph as one
// _entities request that makes one SQL statement.
func TestGateway(t *testing.T) {
	for _, backend := range []string{"sqlite+disk", "postgres+s3"} {
		t.Run(backend, func(t *testing.T) {
			col := newSpanCollector(t)
			var d *deployment
			if backend == "sqlite+disk" {
				d, _ = diskDeployment(t)
			} else {
				d = newDeployment(t)
			}
			p := d.start("AUTH_JWT_SECRET="+gatewaySecret, "OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_BSP_SCHEDULE_DELAY=100")
			gw := startGateway(t, p.base+"/query")
			alice, bob := jwtFor(t, "alice"), jwtFor(t, "bob")

			avatar := bytes.Repeat([]byte("avatar bytes "), 100)
			a := uploadAs(t, p, alice, "me.png", avatar)
			docs := []fileRef{uploadAs(t, p, alice, "cv.pdf", []byte("cv")), uploadAs(t, p, alice, "notes.txt", []byte("notes"))}
			b := uploadAs(t, p, bob, "bob.png", []byte("bob's"))

			gqlAs(t, gw, alice, `mutation($id: ID) { setAvatar(fileId: $id) { id } }`, map[string]any{"id": a.ID}, nil)
			gqlAs(t, gw, alice, `mutation($ids: [ID!]!) { addFiles(fileIds: $ids) { id } }`, map[string]any{"ids": []string{docs[0].ID, docs[1].ID}}, nil)
			var me meData
			gqlAs(t, gw, alice, meQ, nil, &me)
			if me.Me.Avatar == nil || me.Me.Avatar.OriginalName != "me.png" || me.Me.Avatar.Size != int64(len(avatar)) {
				t.Fatalf("me.avatar: %+v", me.Me.Avatar)
			}
			if got := fetch(t, me.Me.Avatar.DownloadURL.URL); !bytes.Equal(got, avatar) {
				t.Errorf("the avatar's link downloads %d bytes, not the %d uploaded", len(got), len(avatar))
			}
			if names := []string{me.Me.Files[0].OriginalName, me.Me.Files[1].OriginalName}; len(me.Me.Files) != 2 || !slices.Equal(names, []string{"cv.pdf", "notes.txt"}) {
				t.Errorf("me.files: %+v", me.Me.Files)
			}

			// Bob's file as alice's avatar: Filegraph resolves it to null.
			gqlAs(t, gw, alice, `mutation($id: ID) { setAvatar(fileId: $id) { id } }`, map[string]any{"id": b.ID}, nil)
			gqlAs(t, gw, alice, meQ, nil, &me)
			if me.Me.Avatar != nil {
				t.Errorf("alice's avatar set to bob's file resolves to %+v, want null", me.Me.Avatar)
			}
			// And bob gets his own through the same gateway.
			gqlAs(t, gw, bob, `mutation($id: ID) { setAvatar(fileId: $id) { id } }`, map[string]any{"id": b.ID}, nil)
			gqlAs(t, gw, bob, meQ, nil, &me)
			if me.Me.Avatar == nil || string(fetch(t, me.Me.Avatar.DownloadURL.URL)) != "bob's" {
				t.Errorf("bob's avatar: %+v", me.Me.Avatar)
			}

			// No token: the users subgraph refuses me, and Filegraph its own
			// fields, through the gateway.
			for _, q := range []string{meQ, `{ files(first: 1) { totalCount } }`} {
				if code := failAs(t, gw, "", q); code != "UNAUTHENTICATED" {
					t.Errorf("%s without a token: code %q, want UNAUTHENTICATED", q, code)
				}
			}

			// 100 references in one list: one _entities, one statement.
			more := make([]string, 98)
			for i := range more {
				more[i] = uploadAs(t, p, alice, fmt.Sprintf("f%02d.txt", i), []byte("x")).ID
			}
			gqlAs(t, gw, alice, `mutation($ids: [ID!]!) { addFiles(fileIds: $ids) { id } }`, map[string]any{"ids": more}, nil)
			col.reset()
			var list struct {
				Me struct {
					Files []struct{ ID, OriginalName string }
				}
			}
			gqlAs(t, gw, alice, `{ me { files { id originalName } } }`, nil, &list)
			if len(list.Me.Files) != 100 || list.Me.Files[2].ID != more[0] {
				t.Fatalf("me.files: %d files, want 100 in the order added", len(list.Me.Files))
			}
			calls, statements := col.entities(t)
			if calls != 1 || statements != 1 {
				t.Errorf("100 references reached Filegraph as %d _entities requests making %d SQL statements, want 1 and 1", calls, statements)
			}

			if os.Getenv("FILEGRAPH_GATEWAY_FIGURES") != "" {
				gatewayFigures(t, p, gw, alice)
			}
		})
	}
}

type fileRef struct{ ID, FileName string }

type meData struct {
	Me struct {
		Avatar *struct {
			OriginalName string
			Size         int64
			DownloadURL  struct{ URL string }
		}
		Files []struct{ ID, OriginalName string }
	}
}

func jwtFor(t *testing.T, user string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(gatewaySecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startGateway runs web/federation/gateway.mjs against Filegraph at url
// and returns the gateway's address; the test stops it by its PID.
func startGateway(t *testing.T, url string) string {
	t.Helper()
	cmd := exec.Command("node", "web/federation/gateway.mjs")
	cmd.Env = append(os.Environ(), "FILEGRAPH_URL="+url, "AUTH_JWT_SECRET="+gatewaySecret)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &output{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), `{"gateway"`) {
				line <- s.Text()
				break
			}
		}
		close(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		var ready struct{ Gateway string }
		if !ok || json.Unmarshal([]byte(l), &ready) != nil || ready.Gateway == "" {
			t.Fatalf("the gateway did not start: %q\n%s", l, stderr)
		}
		return ready.Gateway
	case <-time.After(60 * time.Second):
		t.Fatalf("the gateway did not start within a minute:\n%s", stderr)
	}
	return ""
}

type gqlReply struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

func postAs(t *testing.T, url, token, query string, vars map[string]any) gqlReply {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r gqlReply
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("%s: status %d, %v", query, res.StatusCode, err)
	}
	return r
}

// gqlAs sends a request that must succeed and decodes its data into out.
func gqlAs(t *testing.T, url, token, query string, vars map[string]any, out any) {
	t.Helper()
	r := postAs(t, url, token, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %+v", query, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("%s: %s: %v", query, r.Data, err)
		}
	}
}

// failAs sends a request that must fail and returns its first error's code.
func failAs(t *testing.T, url, token, query string) string {
	t.Helper()
	r := postAs(t, url, token, query, nil)
	if len(r.Errors) == 0 {
		t.Fatalf("%s: no error, data %s", query, r.Data)
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// uploadAs runs the upload flow against Filegraph itself, with a token.
func uploadAs(t *testing.T, p *process, token, name string, body []byte) fileRef {
	t.Helper()
	var c struct {
		CreateUploadUrls []struct {
			FileName, URL, Method string
			Headers               []storage.Header
		}
	}
	gqlAs(t, p.base+"/query", token, `mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName url method headers { name value } } }`,
		map[string]any{"f": []map[string]any{{"originalName": name, "size": len(body)}}}, &c)
	u := c.CreateUploadUrls[0]
	res := storagetest.Send(t, storage.Request{Method: u.Method, URL: u.URL, Header: u.Headers}, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	var s struct{ SaveFiles []fileRef }
	gqlAs(t, p.base+"/query", token, `mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id fileName } }`,
		map[string]any{"f": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &s)
	return s.SaveFiles[0]
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return b
}

// spanCollector receives the binary's OTLP/HTTP span exports.
type spanCollector struct {
	URL   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newSpanCollector(t *testing.T) *spanCollector {
	c := &spanCollector{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(hs.Close)
	c.URL = hs.URL
	return c
}

func (c *spanCollector) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = nil
}

// entities waits for the spans of the _entities requests since reset and
// returns how many there were and the SQL statements of their traces.
func (c *spanCollector) entities(t *testing.T) (calls, statements int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	settled := false
	for {
		c.mu.Lock()
		traces := map[string]bool{}
		for _, s := range c.spans {
			// The gateway's fetch is unnamed: the span is named by its field.
			if strings.Contains(s.Name, "_entities") {
				traces[string(s.TraceId)] = true
			}
		}
		statements = 0
		for _, s := range c.spans {
			if !traces[string(s.TraceId)] {
				continue
			}
			for _, a := range s.Attributes {
				if a.Key == "db.query.text" {
					statements++
				}
			}
		}
		c.mu.Unlock()
		// Spans of one request come in more than one export: once the
		// resolver's and a statement are in, wait a moment for the rest.
		if len(traces) > 0 && statements > 0 {
			if settled {
				return len(traces), statements
			}
			settled = true
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			names := map[string]int{}
			for _, s := range c.spans {
				names[s.Name]++
			}
			c.mu.Unlock()
			t.Fatalf("no _entities span with statements reached the collector in 15s (%d traces); spans: %v", len(traces), names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gatewayFigures measures, when FILEGRAPH_GATEWAY_FIGURES is set, the
// gateway query's latency over 1,000 calls, and the rate of _entities with
// 50 representations against files(first: 50) straight at Filegraph.
func gatewayFigures(t *testing.T, p *process, gw, token string) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		start := time.Now()
		gqlAs(t, gw, token, meQ, nil, nil)
		lat[i] = time.Since(start)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("gateway %s: p50 %v, p99 %v over %d calls", meQ, lat[len(lat)/2], lat[len(lat)*99/100], len(lat))

	var page struct {
		Files struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	gqlAs(t, p.base+"/query", token, `{ files(first: 100) { edges { node { id } } } }`, nil, &page)
	reps := make([]map[string]any, len(page.Files.Edges))
	for i, e := range page.Files.Edges {
		reps[i] = map[string]any{"__typename": "File", "id": e.Node.ID}
	}
	// 100 links: one _entities against 100 fileDownloadUrl calls, 20 rounds each.
	var batch, single []time.Duration
	for range 20 {
		start := time.Now()
		gqlAs(t, p.base+"/query", token, `query($r: [_Any!]!) { _entities(representations: $r) { ... on File { downloadUrl { url } } } }`, map[string]any{"r": reps}, nil)
		batch = append(batch, time.Since(start))
		start = time.Now()
		for _, r := range reps {
			gqlAs(t, p.base+"/query", token, `query($id: ID!) { fileDownloadUrl(id: $id) { url } }`, map[string]any{"id": r["id"]}, nil)
		}
		single = append(single, time.Since(start))
	}
	slices.Sort(batch)
	slices.Sort(single)
	t.Logf("%d links: one _entities %v, %d fileDownloadUrl calls %v (medians of 20)", len(reps), batch[10], len(reps), single[10])
	reps = reps[:50]
	for _, op := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"_entities(50)", `query($r: [_Any!]!) { _entities(representations: $r) { ... on File { id originalName size downloadUrl { url } } } }`, map[string]any{"r": reps}},
		{"files(first: 50)", `{ files(first: 50) { edges { node { id originalName size downloadUrl { url } } } } }`, nil},
	} {
		var n atomic.Int64
		stop := time.Now().Add(3 * time.Second)
		var (
			wg     sync.WaitGroup
			failed atomic.Int64
		)
		body, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					req, _ := http.NewRequest(http.MethodPost, p.base+"/query", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+token)
					res, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
						failed.Add(1)
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%s: %d requests failed", op.name, failed.Load())
		}
		t.Logf("%s with downloadUrl, 4 clients, 3 s: %.0f rps", op.name, float64(n.Load())/3)
	}
}
