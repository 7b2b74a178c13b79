package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP receiver: what a tracing backend runs.
type collector struct {
	URL     string
	discard bool // count nothing: for benchmarks
	mu      sync.Mutex
	got     []*tracepb.Span
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	hs := httptest.NewServer(c.handler())
	t.Cleanup(hs.Close)
	c.URL = hs.URL
	return c
}

// handler receives OTLP/HTTP exports of spans, and keeps the spans.
func (c *collector) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not OTLP/HTTP traces", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			if c.discard {
				break
			}
			for _, ss := range rs.ScopeSpans {
				c.got = append(c.got, ss.Spans...)
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	})
}

// all returns every span received.
func (c *collector) all() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.got...)
}

// trace returns the spans received of one trace.
func (c *collector) trace(id []byte) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.got {
		if bytes.Equal(s.TraceId, id) {
			out = append(out, s)
		}
	}
	return out
}

// TestTraces follows one upload (createUploadUrls, the PUT, saveFiles) as
// a browser app whose own trace is under way: each request's span is a
// child of the app's, and under it the GraphQL operation, its resolver,
// and the storage calls and SQL statements the resolver made.
func TestTraces(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			col := newCollector(t) // before the server: it must outlive the last export
			dbSystem := map[string]string{"sqlite+disk": "sqlite", "postgres+s3": "postgresql"}[backend]
			e := newEnv(t, backend, "OTEL_EXPORTER_OTLP_ENDPOINT", col.URL, "SWEEP_INTERVAL", "0")
			traceID, appSpan := make([]byte, 16), make([]byte, 8)
			rand.Read(traceID)
			rand.Read(appSpan)
			traceparent := "00-" + hex.EncodeToString(traceID) + "-" + hex.EncodeToString(appSpan) + "-01"

			body := randomBytes(2000)
			var created struct{ CreateUploadUrls []uploadURL }
			requestID := tracedPost(t, e, traceparent, createQ, map[string]any{"files": []map[string]any{
				{"originalName": "a.bin", "size": len(body)},
			}}, &created)
			u := created.CreateUploadUrls[0]
			put, _ := http.NewRequest(u.Method, u.URL, bytes.NewReader(body))
			for _, h := range u.Headers {
				if !strings.EqualFold(h.Name, "Content-Length") {
					put.Header.Set(h.Name, h.Value)
				}
			}
			put.Header.Set("traceparent", traceparent)
			res, err := client.Do(put)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("PUT: status %d", res.StatusCode)
			}
			tracedPost(t, e, traceparent, saveQ, map[string]any{"files": []map[string]any{
				{"fileName": u.FileName, "originalName": "a.bin"},
			}}, nil)
			if err := e.srv.tracing.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}

			spans := col.trace(traceID)
			byID := map[string]*tracepb.Span{}
			for _, s := range spans {
				byID[string(s.SpanId)] = s
			}
			// under reports whether s descends from ancestor.
			under := func(s, ancestor *tracepb.Span) bool {
				for p := byID[string(s.ParentSpanId)]; p != nil; p = byID[string(p.ParentSpanId)] {
					if p == ancestor {
						return true
					}
				}
				return false
			}
			children := func(parent *tracepb.Span, name string) []*tracepb.Span {
				var out []*tracepb.Span
				for _, s := range spans {
					if bytes.Equal(s.ParentSpanId, parent.SpanId) && (name == "" || s.Name == name) {
						out = append(out, s)
					}
				}
				return out
			}
			app := &tracepb.Span{SpanId: appSpan}
			requests := children(app, "")
			wantRequests := map[string]int{"POST /query": 2}
			if backend == "sqlite+disk" {
				wantRequests["PUT /storage/"] = 1 // on S3 the PUT goes to the bucket
			}
			gotRequests := map[string]int{}
			var byRequestID int
			for _, r := range requests {
				gotRequests[r.Name]++
				if attr(r, "filegraph.request_id") == requestID {
					byRequestID++
				}
				if r.Kind != tracepb.Span_SPAN_KIND_SERVER {
					t.Errorf("request span %q has kind %v", r.Name, r.Kind)
				}
			}
			if byRequestID != 1 {
				t.Errorf("%d request spans carry the X-Request-Id %q, want 1", byRequestID, requestID)
			}
			if len(gotRequests) != len(wantRequests) || gotRequests["POST /query"] != 2 || gotRequests["PUT /storage/"] != wantRequests["PUT /storage/"] {
				t.Fatalf("request spans under the app's span: %v, want %v (all spans: %v)", gotRequests, wantRequests, names(spans))
			}

			for _, op := range []struct{ name, storage string }{
				{"createUploadUrls", "storage.presign_put"},
				{"saveFiles", "storage.stat"},
			} {
				var operation *tracepb.Span
				for _, r := range requests {
					if ops := children(r, "mutation "+op.name); len(ops) == 1 {
						operation = ops[0]
					}
				}
				if operation == nil {
					t.Errorf("no span mutation %s under a request span; spans: %v", op.name, names(spans))
					continue
				}
				resolvers := children(operation, "Mutation."+op.name)
				if len(resolvers) != 1 {
					t.Errorf("resolver spans under %q: %d; spans: %v", operation.Name, len(resolvers), names(spans))
					continue
				}
				resolver := resolvers[0]
				if got := children(resolver, op.storage); len(got) != 1 {
					t.Errorf("%s spans under %s: %d, want 1", op.storage, resolver.Name, len(got))
				}
				var statements int
				for _, s := range spans {
					if attr(s, "db.system.name") == dbSystem && attr(s, "db.query.text") != "" && under(s, resolver) {
						statements++
					}
				}
				if statements == 0 {
					t.Errorf("no %s statement spans under %s; spans: %v", dbSystem, resolver.Name, names(spans))
				}
			}
			// Statements outside a request (migrations, the sweeper) make
			// no traces of their own.
			for _, s := range col.all() {
				if len(s.ParentSpanId) == 0 && attr(s, "db.system.name") != "" {
					t.Errorf("SQL span %q started a trace of its own", s.Name)
				}
			}
		})
	}
}

// attr returns the string value of the span's attribute key, or "".
func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

func names(spans []*tracepb.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// tracedPost sends a GraphQL request that carries the caller's trace, and
// decodes its data into out; it must succeed. It returns the X-Request-Id.
func tracedPost(t *testing.T, e *env, traceparent, query string, vars map[string]any, out any) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", traceparent)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %v %+v", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatal(err)
		}
	}
	return res.Header.Get("X-Request-Id")
}
