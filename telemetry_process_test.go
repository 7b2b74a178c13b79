package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracesFromTheEnvironment runs the real binary with the standard
// OTEL_* variables: its spans reach an OTLP/HTTP collector under the
// service name given, the last batch is sent when it stops on SIGTERM
// (before the batch timer), and its log records carry the trace id.
func TestTracesFromTheEnvironment(t *testing.T) {
	var (
		mu        sync.Mutex
		spans     []*tracepb.Span
		resources int      // resource blocks received
		services  []string // their service.name attributes
	)
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil || r.URL.Path != "/v1/traces" {
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			resources++
			for _, a := range rs.Resource.GetAttributes() {
				if a.Key == "service.name" {
					services = append(services, a.Value.GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer col.Close()

	d := newDeployment(t)
	p := d.start("OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_SERVICE_NAME=filegraph-under-test",
		"LOG_LEVEL=info", "LOG_FORMAT=json", "DRAIN_DELAY=0s")
	p.gql(t, `query Count { files { totalCount } }`, nil, nil)

	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20s after SIGTERM\n%s", p.out)
	}

	mu.Lock()
	defer mu.Unlock()
	var request, operation *tracepb.Span
	for _, s := range spans {
		switch s.Name {
		case "POST /query":
			request = s
		case "query Count":
			operation = s
		}
	}
	if request == nil || operation == nil {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name
		}
		t.Fatalf("collector got spans %v, want POST /query and query Count", names)
	}
	if string(operation.ParentSpanId) != string(request.SpanId) {
		t.Error("the operation's span is not a child of the request's")
	}
	// Every resource the spans came with names the service, once.
	if len(services) != resources {
		t.Errorf("%d resources carried %d service.name attributes (%q), want one each", resources, len(services), services)
	}
	for _, s := range services {
		if s != "filegraph-under-test" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", s)
		}
	}
	traceID := hex.EncodeToString(request.TraceId)
	if !strings.Contains(p.out.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("no log record carries trace_id %s:\n%s", traceID, p.out)
	}
}

// TestTracingErrorsAreLogged runs the binary against a collector that
// refuses every export: the SDK's errors reach the server's log as JSON
// records of the event tracing.error (before, the SDK printed them to
// stderr as plain text, past LOG_FORMAT=json), and so does a setting the
// exporter cannot parse.
func TestTracingErrorsAreLogged(t *testing.T) {
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "refused by the test", http.StatusBadRequest) // not retried
	}))
	defer col.Close()

	d, _ := diskDeployment(t)
	p := d.start("OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_BSP_SCHEDULE_DELAY=50",
		"OTEL_EXPORTER_OTLP_HEADERS=no-equals-sign", "LOG_FORMAT=json", "LOG_LEVEL=info")
	p.gql(t, `query Count { files { totalCount } }`, nil, nil)

	type record struct{ Msg, Level, Err, Detail string }
	var export, setting *record
	var plain []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && (export == nil || setting == nil) && plain == nil; time.Sleep(50 * time.Millisecond) {
		export, setting, plain = nil, nil, nil
		for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
			var r record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				plain = append(plain, line)
				continue
			}
			switch {
			case r.Msg == "tracing.error" && strings.Contains(r.Err, "400"):
				export = &r
			case r.Msg == "tracing.error" && r.Detail == "parse headers":
				setting = &r
			}
		}
	}
	if plain != nil {
		t.Errorf("lines that are not JSON records: %q", plain)
	}
	t.Logf("export: %+v; setting: %+v", export, setting)
	if export == nil || export.Level != "WARN" {
		t.Errorf("no tracing.error warning for the refused export (%+v):\n%s", export, p.out)
	}
	if setting == nil || setting.Level != "WARN" {
		t.Errorf("no tracing.error warning for OTEL_EXPORTER_OTLP_HEADERS (%+v):\n%s", setting, p.out)
	}
}
