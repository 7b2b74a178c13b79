package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/s3store"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

var s3srv *testenv.S3

func TestMain(m *testing.M) { testenv.RunWithS3(m, &s3srv) }

// backends are the two ways Filegraph runs: embedded, and production-like.
var backends = []string{"sqlite+disk", "postgres+s3"}

// env is one server under test, served over real HTTP.
type env struct {
	t       testing.TB
	URL     string
	srv     *Server
	store   storage.Store
	s3Proxy *testenv.Proxy // newFaultyEnv only: cut to take storage down
	pgProxy *testenv.Proxy // newFaultyEnv only: cut to take the database down
	token   string         // sent as Authorization: Bearer, when set
	clock   *clock
	logs    *logBuffer // everything the server logged
}

// logBuffer keeps what the server logs, for tests that check it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// as returns the env acting with token.
func (e *env) as(token string) *env {
	c := *e
	c.token = token
	return &c
}

// clock is the server's time: now, plus however far a test moved it.
type clock struct{ ahead atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// newEnv starts a server on backend; settings are NAME, value pairs.
func newEnv(t testing.TB, backend string, settings ...string) *env {
	t.Helper()
	return startEnv(t, backend, false, settings)
}

// newFaultyEnv starts a postgres+s3 server whose database and storage are
// reached through proxies that a test can cut.
func newFaultyEnv(t testing.TB, settings ...string) *env {
	t.Helper()
	return startEnv(t, "postgres+s3", true, settings)
}

func startEnv(t testing.TB, backend string, proxied bool, settings []string, extra ...Option) *env {
	ctx := context.Background()
	hs := httptest.NewUnstartedServer(nil)
	vars := map[string]string{
		"DATA_DIR":   t.TempDir(),
		"PUBLIC_URL": "http://" + hs.Listener.Addr().String(),
	}
	for i := 0; i+1 < len(settings); i += 2 {
		vars[settings[i]] = settings[i+1]
	}
	e := &env{t: t, clock: &clock{}, logs: &logBuffer{}}
	opts := append([]Option{WithClock(e.clock.now)}, extra...)
	var s3cfg *s3store.Config
	if backend == "postgres+s3" {
		pg, err := testenv.NewPostgres()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		pgURL, _ := url.Parse(pg.URL)
		s3URL, _ := url.Parse(s3srv.Endpoint)
		if proxied {
			if e.pgProxy, err = testenv.NewProxy(pgURL.Host); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.pgProxy.Close)
			pgURL.Host = e.pgProxy.Addr
			if e.s3Proxy, err = testenv.NewProxy(s3URL.Host); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.s3Proxy.Close)
			s3URL.Host = e.s3Proxy.Addr
		}
		vars["DATABASE_URL"] = pgURL.String()

		bucket, err := s3srv.NewBucket(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s3cfg = &s3store.Config{
			Bucket: bucket, Region: s3srv.Region, Endpoint: s3URL.String(),
			ForcePathStyle: true, Credentials: s3srv.Credentials(),
			// The bucket's own URL, as config makes it by default.
			PublicBaseURL: s3URL.String() + "/" + bucket + "/",
		}
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s3cfg != nil {
		if cfg.S3.PublicBaseURL != "" { // S3_PUBLIC_BASE_URL, as config read it
			s3cfg.PublicBaseURL = cfg.S3.PublicBaseURL
		}
		store, err := s3store.New(ctx, *s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithStore(store))
	}
	// Everything to e.logs, for tests that check what was logged; with -v
	// warnings and errors to stderr too.
	handler := slog.Handler(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if testing.Verbose() {
		handler = slog.NewMultiHandler(handler, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log := slog.New(handler)
	srv, err := New(ctx, cfg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs.Config.Handler = srv.Handler
	hs.Start()
	t.Cleanup(hs.Close)
	e.URL, e.srv, e.store = hs.URL, srv, srv.store
	return e
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (g gqlError) code() string { c, _ := g.Extensions["code"].(string); return c }

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// client bounds every request a test sends, so a server that never
// answers fails the test instead of hanging it.
var client = &http.Client{Timeout: time.Minute}

// post sends a GraphQL request as a browser app does.
func (e *env) post(query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	out, err := e.send(context.Background(), query, vars)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// send is post for other goroutines: it returns what went wrong.
func (e *env) send(ctx context.Context, query string, vars map[string]any) (gqlResponse, error) {
	var out gqlResponse
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, "POST", e.URL+"/query", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		req.Header.Set("X-Request-Id", id)
	}
	res, err := client.Do(req)
	if err != nil {
		return out, err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("decoding response (status %d): %w", res.StatusCode, err)
	}
	return out, nil
}

// requestIDKey carries, in send's context, the X-Request-Id to send.
type requestIDKey struct{}

// do runs a request that must succeed and decodes its data into out.
func (e *env) do(query string, vars map[string]any, out any) {
	e.t.Helper()
	r := e.post(query, vars)
	if len(r.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.t.Fatalf("decoding data %s: %v", r.Data, err)
		}
	}
}

// fail runs a request that must fail with code and returns its error.
func (e *env) fail(code, query string, vars map[string]any) gqlError {
	e.t.Helper()
	r := e.post(query, vars)
	if len(r.Errors) != 1 {
		e.t.Fatalf("got %d errors (%+v), want one %s; data %s", len(r.Errors), r.Errors, code, r.Data)
	}
	if r.Errors[0].code() != code {
		e.t.Fatalf("error %+v, want code %s", r.Errors[0], code)
	}
	return r.Errors[0]
}

type header struct{ Name, Value string }

type uploadURL struct {
	FileName, OriginalName, URL, Method string
	Headers                             []header
	ExpiresAt                           time.Time
}

func (u uploadURL) request() storage.Request {
	r := storage.Request{Method: u.Method, URL: u.URL}
	for _, h := range u.Headers {
		r.Header = append(r.Header, storage.Header{Name: h.Name, Value: h.Value})
	}
	return r
}

type fileNode struct {
	ID, Bucket, FileName, OriginalName, ContentType string
	Size                                            int64
	CreatedAt                                       time.Time
}

const (
	createQ = `mutation($files: [UploadRequest!]!) { createUploadUrls(files: $files) {
		fileName originalName url method headers { name value } expiresAt } }`
	saveQ = `mutation($files: [SaveFileInput!]!) { saveFiles(files: $files) {
		id bucket fileName originalName size contentType createdAt } }`
	downloadQ = `query($id: ID!) { fileDownloadUrl(id: $id) { url expiresAt } }`
	deleteQ   = `mutation($id: ID!) { deleteFile(id: $id) }`
	listQ     = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $orderBy: FileOrder, $where: FileWhereInput) {
		files(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, where: $where) {
			totalCount
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
			edges { cursor node { id fileName originalName size contentType createdAt } } } }`
)

type connection struct {
	Files struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   fileNode
		}
	}
}

func (c connection) names() []string {
	out := make([]string, len(c.Files.Edges))
	for i, e := range c.Files.Edges {
		out[i] = e.Node.OriginalName
	}
	return out
}

// createUploads asks for upload URLs for the requests.
func (e *env) createUploads(reqs ...map[string]any) []uploadURL {
	e.t.Helper()
	var out struct{ CreateUploadUrls []uploadURL }
	e.do(createQ, map[string]any{"files": reqs}, &out)
	return out.CreateUploadUrls
}

// put uploads body to an issued URL with exactly the returned headers.
func (e *env) put(u uploadURL, body []byte) {
	e.t.Helper()
	res := storagetest.Send(e.t, u.request(), body)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("PUT %s: status %d: %s", u.FileName, res.StatusCode, b)
	}
}

// upload creates, PUTs and saves one file, returning it.
func (e *env) upload(name, contentType string, body []byte) fileNode {
	e.t.Helper()
	u := e.createUploads(map[string]any{"originalName": name, "size": len(body), "contentType": contentType})[0]
	e.put(u, body)
	var out struct{ SaveFiles []fileNode }
	e.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &out)
	return out.SaveFiles[0]
}
