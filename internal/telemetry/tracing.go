package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing sends spans to an OTLP/HTTP collector at endpoint (the value of
// OTEL_EXPORTER_OTLP_ENDPOINT; spans go to its /v1/traces). The other
// standard variables, read through getenv, apply as the OpenTelemetry SDK
// defines them: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION,
// OTEL_SERVICE_NAME (default "filegraph"), OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG. Only http/protobuf is
// spoken: a request for gRPC is refused as a misconfiguration.
//
// What the SDK cannot do (an export refused or failed, a bad OTEL_*
// value it skips) goes to log as the event tracing.error.
//
// Shut the provider down at exit: it flushes the spans still batched.
func Tracing(ctx context.Context, endpoint string, getenv func(string) string, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	logSDKErrors(log)
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(v); p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("%s: %q is not supported; Filegraph sends traces over http/protobuf", v, p)
		}
	}
	var opts []otlptracehttp.Option
	if getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		// Given as a flag, the endpoint is not in the environment the
		// exporter reads; the signal's own variable, when set, wins.
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName("filegraph")),
		resource.Environment(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER; its default follows the
	// caller's decision and samples every trace that starts here.
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// propagator reads and writes W3C trace context and baggage headers.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// HTTP makes a span per request, continuing the caller's trace when the
// request carries a traceparent header. It goes outside the request
// logging, so that every log record of the request has the trace id.
func HTTP(tp trace.TracerProvider, next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http.request",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // Prometheus counts requests
	)
}

// logSDKErrors sends the SDK's errors to log. The SDK reports them through
// two process-wide hooks, which by default print plain text to stderr
// (not JSON under LOG_FORMAT=json, and without the event name alerts
// match): its error handler (exports that fail) and its logr logger
// (settings it cannot parse). The last server to set them gets them.
func logSDKErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing.error", "err", err)
	}))
	otel.SetLogger(logr.FromSlogHandler(sdkErrors{log.Handler()}))
}

// sdkErrors logs the SDK's logr errors as tracing.error warnings, the SDK's
// own text as detail; its info and debug records (logr verbosity, which
// its default logger drops too) are left out.
type sdkErrors struct{ h slog.Handler }

func (s sdkErrors) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && s.h.Enabled(ctx, slog.LevelWarn)
}

func (s sdkErrors) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, slog.LevelWarn, "tracing.error", r.PC)
	out.AddAttrs(slog.String("detail", r.Message))
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return s.h.Handle(ctx, out)
}

func (s sdkErrors) WithAttrs(as []slog.Attr) slog.Handler { return sdkErrors{s.h.WithAttrs(as)} }
func (s sdkErrors) WithGroup(g string) slog.Handler       { return sdkErrors{s.h.WithGroup(g)} }
