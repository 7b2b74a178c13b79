// Package telemetry is what an operator sees of a running Filegraph:
// Prometheus metrics (HTTP routes, GraphQL operations, storage calls, the
// database pool, uploads, the sweeper, the Go runtime) and OpenTelemetry
// traces (a span per request, GraphQL operation, resolver, storage call and
// SQL statement).
//
// Each server has its own registry, so tests run several side by side;
// main serves it on METRICS_ADDR, apart from the public API.
package telemetry

import (
	"database/sql"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/filegraph/filegraph/internal/httplog"
)

// namespace prefixes every Filegraph series.
const namespace = "filegraph"

// scope names Filegraph's own spans' instrumentation.
const scope = "github.com/filegraph/filegraph/internal/telemetry"

// Metrics is one server's registry and the instruments on it.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests *prometheus.CounterVec   // route, method, code
	httpDuration *prometheus.HistogramVec // route, method
	routes       sync.Map                 // routeKey → routeSeries, so a request hashes one key

	gqlOperations *prometheus.CounterVec   // operation, type, outcome
	gqlDuration   *prometheus.HistogramVec // operation, type, outcome
	gqlErrors     *prometheus.CounterVec   // operation, code
	gqlNames      names

	storageCalls    *prometheus.CounterVec   // operation, outcome
	storageDuration *prometheus.HistogramVec // operation

	uploadsIssued      prometheus.Counter
	uploadsIssuedBytes prometheus.Counter
	filesSaved         prometheus.Counter
	filesSavedBytes    prometheus.Counter
	uploadsAborted     *prometheus.CounterVec // reason
	sweeps             *prometheus.CounterVec // outcome
	swept              *prometheus.CounterVec // what
	sweepLast          prometheus.Gauge
	reconciles         *prometheus.CounterVec // outcome
	reconcileFound     *prometheus.GaugeVec   // what
	reconcileLast      prometheus.Gauge
	jobs               *prometheus.CounterVec   // kind, outcome
	jobDuration        *prometheus.HistogramVec // kind
	scanned            *prometheus.CounterVec   // status
}

// NewMetrics makes a registry with the Go runtime and process collectors
// and Filegraph's own series.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{
		registry: reg,
		httpRequests: f.counterVec("http_requests_total",
			"HTTP requests answered, by route pattern, method and status code.", "route", "method", "code"),
		httpDuration: f.histogramVec("http_request_duration_seconds",
			"Time to answer an HTTP request, by route pattern and method.", "route", "method"),
		gqlOperations: f.counterVec("graphql_operations_total",
			"GraphQL operations run, by operation name, type and outcome (ok, error).", "operation", "type", "outcome"),
		gqlDuration: f.histogramVec("graphql_operation_duration_seconds",
			"Time from reading a GraphQL request to its response, by operation name, type and outcome.", "operation", "type", "outcome"),
		gqlErrors: f.counterVec("graphql_errors_total",
			"Errors in GraphQL responses, by operation name and extensions.code.", "operation", "code"),
		gqlNames: names{limit: maxOperationNames},
		storageCalls: f.counterVec("storage_calls_total",
			"Calls to the object store, by operation and outcome (ok, not_found, unavailable, error).", "operation", "outcome"),
		storageDuration: f.histogramVec("storage_call_duration_seconds",
			"Time a call to the object store took, by operation.", "operation"),
		uploadsIssued: f.counter("uploads_issued_total",
			"Uploads issued: single-PUT URLs and uploads in parts."),
		uploadsIssuedBytes: f.counter("uploads_issued_bytes_total",
			"Bytes announced by the uploads issued."),
		filesSaved: f.counter("files_saved_total",
			"Uploads saved as files."),
		filesSavedBytes: f.counter("files_saved_bytes_total",
			"Bytes of the files saved."),
		uploadsAborted: f.counterVec("uploads_aborted_total",
			"Uploads removed without being saved, by reason: client (abortUpload), expired (the sweeper took it after its save window).", "reason"),
		sweeps: f.counterVec("sweeps_total",
			"Sweeper runs, by outcome (ok, error).", "outcome"),
		swept: f.counterVec("swept_total",
			"What the sweeper removed: expired uploads, and interrupted deletes it finished.", "what"),
		sweepLast: f.gauge("sweep_last_success_timestamp_seconds",
			"Unix time of the sweeper's last run without an error."),
		reconciles: f.counterVec("reconcile_runs_total",
			"Reconciliations of storage against the database, by outcome (ok, error).", "outcome"),
		reconcileFound: f.gaugeVec("reconcile_found",
			"What the last reconciliation found: orphans (objects without a row), missing (rows without an object).", "what"),
		reconcileLast: f.gauge("reconcile_last_success_timestamp_seconds",
			"Unix time of the last reconciliation that ran to the end."),
		jobs: f.counterVec("jobs_total",
			"Runs of background jobs (scan), by kind and outcome: ok; scanner_unavailable (clamd down or slow: the file stays SCANNING and is tried again), unavailable (storage or database), error.", "kind", "outcome"),
		jobDuration: f.histogramVec("job_duration_seconds",
			"How long runs of background jobs took, by kind.", "kind"),
		scanned: f.counterVec("files_scanned_total",
			"Virus scan verdicts, by the status they gave: READY, INFECTED, UNSCANNED.", "status"),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Series that are read as rates should exist before the first event,
	// so that a rate over them starts from zero rather than from nothing.
	m.uploadsAborted.WithLabelValues("expired")
	m.uploadsAborted.WithLabelValues("client")
	for _, o := range []string{"ok", "error"} {
		m.sweeps.WithLabelValues(o)
		m.reconciles.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "scanner_unavailable", "unavailable", "error"} {
		m.jobs.WithLabelValues("scan", o)
	}
	for _, st := range []string{"READY", "INFECTED", "UNSCANNED"} {
		m.scanned.WithLabelValues(st)
	}
	for _, w := range []string{"uploads", "deletes"} {
		m.swept.WithLabelValues(w)
	}
	return m
}

// Registry is where further collectors go.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// WatchDB adds the statistics of a connection pool (open, in use, idle,
// waits for a connection) as the go_sql_* series with db_name=name.
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	m.registry.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// WriteReconcileFile writes the reconcile_* series to path (atomically),
// for node_exporter's textfile collector: `filegraph reconcile` is a
// scheduled command that exits, so no scrape could reach it.
func (m *Metrics) WriteReconcileFile(path string) error {
	only := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		all, err := m.registry.Gather()
		return slices.DeleteFunc(all, func(f *dto.MetricFamily) bool {
			return !strings.HasPrefix(f.GetName(), namespace+"_reconcile_")
		}), err
	})
	return prometheus.WriteToTextfile(path, only)
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Routes counts and times each request by the ServeMux pattern that served
// it; it must wrap the mux directly, so that it sees the pattern the mux
// sets on the request. With tracing on it also names the request's span by
// the pattern.
func (m *Metrics) Routes(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		k := routeKey{r.Pattern, methodOf(r.Method), rec.status}
		v, ok := m.routes.Load(k)
		if !ok {
			v, _ = m.routes.LoadOrStore(k, m.routeSeries(k))
		}
		s := v.(routeSeries)
		s.requests.Inc()
		s.duration.Observe(time.Since(start).Seconds())
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(s.spanName)
			// The id clients see in X-Request-Id finds the trace too.
			span.SetAttributes(attribute.String("http.route", s.route), attribute.String("filegraph.request_id", httplog.RequestID(r.Context())))
		}
	})
}

type routeKey struct {
	pattern, method string
	status          int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
	route    string
	spanName string
}

func (m *Metrics) routeSeries(k routeKey) routeSeries {
	route, method := routeOf(k.pattern), k.method
	return routeSeries{
		requests: m.httpRequests.WithLabelValues(route, method, strconv.Itoa(k.status)),
		duration: m.httpDuration.WithLabelValues(route, method),
		route:    route,
		spanName: method + " " + route,
	}
}

// routeOf turns a ServeMux pattern into a route label: "GET /healthz" is
// "/healthz", "/{$}" is "/", and no pattern (a 404) is "none".
func routeOf(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	switch pattern {
	case "":
		return "none"
	case "/{$}":
		return "/"
	}
	return pattern
}

// methodOf keeps the method label to the methods HTTP defines: anything
// else a client sends would be a new series.
func methodOf(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// factory registers Filegraph series on one registry.
type factory struct{ reg prometheus.Registerer }

// buckets span a cached presign (about 100µs) to a request timeout (30s).
var buckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
