package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/filegraph/filegraph/internal/httplog"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/diskstore"
)

// The decorator has exactly the optional abilities of the store it wraps.
func TestStoreKeepsAbilities(t *testing.T) {
	disk, err := diskstore.New(t.TempDir(), "http://127.0.0.1:1/storage/", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	type abilities struct{ list, url, parts, partsList bool }
	for _, tt := range []struct {
		name  string
		inner storage.Store
		want  abilities
	}{
		{"disk", disk, abilities{true, true, true, true}},
		{"S3's", struct {
			storage.Store
			storage.Lister
			storage.Multipart
			storage.MultipartLister
		}{disk, disk, disk, disk}, abilities{true, false, true, true}},
		{"lister only", struct {
			storage.Store
			storage.Lister
		}{disk, disk}, abilities{list: true}},
		{"url server only", struct {
			storage.Store
			storage.URLServer
		}{disk, disk}, abilities{url: true}},
		{"parts without listing them", struct {
			storage.Store
			storage.URLServer
			storage.Multipart
		}{disk, disk, disk}, abilities{url: true, parts: true}},
		{"neither", struct{ storage.Store }{disk}, abilities{}},
	} {
		s := m.Store(tt.inner, nil)
		var got abilities
		_, got.list = s.(storage.Lister)
		_, got.url = s.(storage.URLServer)
		_, got.parts = s.(storage.Multipart)
		_, got.partsList = s.(storage.MultipartLister)
		if got != tt.want {
			t.Errorf("%s store: decorated has %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestOperationLabelsAreBounded(t *testing.T) {
	var n names
	n.limit = 3
	for i := range 3 {
		if got := n.label(fmt.Sprint("Op", i)); got != fmt.Sprint("Op", i) {
			t.Errorf("label %d = %q", i, got)
		}
	}
	for name, want := range map[string]string{"Op1": "Op1", "Op9": "other", "": "anonymous", string(make([]byte, 65)): "other"} {
		if got := n.label(name); got != want {
			t.Errorf("label(%.10q) = %q, want %q", name, got, want)
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
	_, err := Tracing(context.Background(), "http://127.0.0.1:4318", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("Tracing with gRPC: %v, want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}
