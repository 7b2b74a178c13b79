// Package httplog gives each request an id, puts it on every log record
// made with the request's context, and logs one "http.request" event per
// request. So every line about a request, from any package that logs with
// its context, can be found by the id, which clients see in the
// X-Request-Id header. The id is always the server's own: one a client
// sends could name another client's request, so it is kept beside it as
// client_request_id.
package httplog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

type entry struct {
	id       string
	clientID string // the caller's X-Request-Id, if plain
	log      *slog.Logger
}

// FromContext returns the server's logger inside a request, or
// slog.Default outside one. Log with the request's context to get its id.
func FromContext(ctx context.Context) *slog.Logger {
	if e, ok := ctx.Value(ctxKey{}).(entry); ok {
		return e.log
	}
	return slog.Default()
}

// RequestID returns the request's id, or "".
func RequestID(ctx context.Context) string {
	e, _ := ctx.Value(ctxKey{}).(entry)
	return e.id
}

// Logger returns log with records made under a request's context tagged
// with its request_id, and with the trace_id when tracing is on.
func Logger(log *slog.Logger) *slog.Logger {
	return slog.New(contextHandler{log.Handler()})
}

type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if e, ok := ctx.Value(ctxKey{}).(entry); ok {
		r.AddAttrs(slog.String("request_id", e.id))
		if e.clientID != "" {
			r.AddAttrs(slog.String("client_request_id", e.clientID))
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// Middleware assigns ids and logs each request; log should come from Logger.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, clientID := newID(), r.Header.Get("X-Request-Id")
		if !validID(clientID) {
			clientID = ""
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		ctx := context.WithValue(r.Context(), ctxKey{}, entry{id: id, clientID: clientID, log: log})
		next.ServeHTTP(rec, r.WithContext(ctx))
		if !log.Enabled(ctx, slog.LevelInfo) {
			return
		}
		// The record is made here rather than by LogAttrs, which looks up
		// its caller on every request (runtime.Callers) for a source that
		// the server's handlers do not write.
		end := time.Now()
		record := slog.NewRecord(end, slog.LevelInfo, "http.request", 0)
		record.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", end.Sub(start)),
		)
		log.Handler().Handle(ctx, record)
	})
}

// validID keeps a caller's id only if it is short and plain, so it cannot
// forge log lines.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
