package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/filegraph/filegraph/internal/httplog"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/diskstore"
)

// Every call through the decorator is counted under its operation, with
// the outcome the store's error says; every method of storage.Store that
// reaches the store is called here, so one added later must be too.
func TestStoreCountsEveryCall(t *testing.T) {
	disk, err := diskstore.New(t.TempDir(), "http://127.0.0.1:1/storage/", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	s := m.Store(disk, nil)
	ctx := context.Background()
	key := "files/0123456789abcdef0123456789abcdef.bin"
	var id string
	calls := []struct {
		op, outcome string
		call        func() error
	}{
		{"presign_put", "ok", func() error {
			_, err := s.PresignPut(ctx, key, storage.PutOptions{Size: 1, ContentType: "text/plain", TTL: time.Minute})
			return err
		}},
		{"presign_get", "ok", func() error {
			_, err := s.PresignGet(ctx, key, storage.GetOptions{FileName: "a.txt", ContentType: "text/plain", TTL: time.Minute})
			return err
		}},
		{"stat", "not_found", func() error { _, err := s.Stat(ctx, key); return err }},
		{"open", "not_found", func() error { _, err := s.Open(ctx, key); return err }},
		{"put", "ok", func() error { return s.Put(ctx, key, []byte("x"), "text/plain") }},
		{"delete", "ok", func() error { return s.Delete(ctx, key) }},
		{"ping", "ok", func() error { return s.Ping(ctx) }},
		{"list", "ok", func() error { return s.List(ctx, "files/", func(string) error { return nil }) }},
		{"create_multipart", "ok", func() (err error) {
			id, err = s.CreateMultipart(ctx, key, storage.MultipartOptions{ContentType: "text/plain"})
			return err
		}},
		{"presign_part", "ok", func() error {
			_, err := s.PresignPart(ctx, key, id, storage.PartOptions{Number: 1, Size: 1, TTL: time.Minute})
			return err
		}},
		{"list_parts", "ok", func() error { _, err := s.ListParts(ctx, key, id); return err }},
		{"complete_multipart", "error", func() error { return s.CompleteMultipart(ctx, key, id, nil) }},
		{"list_multipart", "ok", func() error {
			return s.ListMultipart(ctx, "files/", func(storage.MultipartUpload) error { return nil })
		}},
		{"abort_multipart", "ok", func() error { return s.AbortMultipart(ctx, key, id) }},
	}
	// Bucket, MaxPutSize and PublicURL return what the store was made
	// with: nothing to count.
	if n := reflect.TypeFor[storage.Store]().NumMethod() - 3; len(calls) != n {
		t.Fatalf("the test calls %d methods; storage.Store has %d that reach the store", len(calls), n)
	}
	for _, c := range calls {
		c.call()
	}
	got := map[string]float64{}
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "filegraph_storage_calls_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range mt.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			got[l["operation"]+" "+l["outcome"]] += mt.GetCounter().GetValue()
		}
	}
	for _, c := range calls {
		if n := got[c.op+" "+c.outcome]; n != 1 {
			t.Errorf("%s %s counted %v times, want 1 (all: %v)", c.op, c.outcome, n, got)
		}
	}
	if s.Bucket() != disk.Bucket() || s.MaxPutSize() != disk.MaxPutSize() {
		t.Errorf("Bucket, MaxPutSize = %q, %d; the store's are %q, %d", s.Bucket(), s.MaxPutSize(), disk.Bucket(), disk.MaxPutSize())
	}
}

func TestOperationLabelsAreBounded(t *testing.T) {
	var n names
	n.limit = 3
	// A request that may not add a name gets only names already given.
	if got := n.label("Op0", false); got != "other" {
		t.Errorf("label(Op0) without adding = %q, want other", got)
	}
	for i := range 3 {
		if got := n.label(fmt.Sprint("Op", i), true); got != fmt.Sprint("Op", i) {
			t.Errorf("label %d = %q", i, got)
		}
	}
	for name, want := range map[string]string{"Op1": "Op1", "Op9": "other", "": "anonymous", string(make([]byte, 65)): "other"} {
		for _, add := range []bool{true, false} {
			if got := n.label(name, add); got != want {
				t.Errorf("label(%.10q, %v) = %q, want %q", name, add, got, want)
			}
		}
	}
}

func TestRouteLabels(t *testing.T) {
	for pattern, want := range map[string]string{"GET /healthz": "/healthz", "/query": "/query", "GET /{$}": "/", "": "none", "/storage/": "/storage/"} {
		if got := routeOf(pattern); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", pattern, got, want)
		}
	}
	if methodOf("BREW") != "OTHER" || methodOf("PUT") != "PUT" {
		t.Error("methods outside HTTP's must share one label")
	}
}

// Every log record of a traced request carries its trace id: the span is
// made outside the request logging.
func TestTraceIDInEveryLogRecord(t *testing.T) {
	var buf bytes.Buffer
	log := httplog.Logger(slog.New(slog.NewTextHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	h := HTTP(tp, httplog.Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "files.saved")
	})))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest("POST", "/query", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines: %q", lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, "trace_id="+traceID) {
			t.Errorf("line %q lacks trace_id=%s", l, traceID)
		}
	}
}

func TestTracingRefusesGRPC(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
	_, err := Tracing(context.Background(), "http://127.0.0.1:4318", func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("Tracing with gRPC: %v, want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}
