// Package httplog gives each request an id and a logger that carries it,
// and logs one "http.request" event per request. Handlers deeper down take
// the logger from the context, so every line about a request can be found
// by its id, which clients also see in the X-Request-Id header.
package httplog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

type ctxKey struct{}

type entry struct {
	id  string
	log *slog.Logger
}

// FromContext returns the request's logger, or slog.Default outside one.
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

// Middleware assigns ids, attaches loggers and logs each request.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validID(id) {
			id = newID()
		}
		l := log.With("request_id", id)
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, entry{id: id, log: l})))
		l.LogAttrs(r.Context(), slog.LevelInfo, "http.request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// validID accepts a caller's id only if it is short and plain, so it cannot
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
