package httplog

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestIDOnEveryRecord(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewTextHandler(&buf, nil)))
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A package deeper down, logging with the request's context.
		log.With("component", "files").InfoContext(r.Context(), "files.saved")
		w.WriteHeader(http.StatusTeapot)
	}))
	seen := map[string]bool{}
	for _, tt := range []struct{ sent, client string }{
		{"abc-123", "abc-123"},
		{"abc-123", "abc-123"},   // another client's id: kept apart
		{"bad id\nforged=1", ""}, // not kept at all
	} {
		buf.Reset()
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("X-Request-Id", tt.sent)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get("X-Request-Id")
		if id == "" || id == tt.sent || seen[id] || strings.ContainsAny(id, " \n") {
			t.Errorf("sent %q: X-Request-Id %q", tt.sent, id)
		}
		seen[id] = true
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("log lines: %q", lines)
		}
		for _, l := range lines {
			if !strings.Contains(l, " request_id="+id) {
				t.Errorf("line %q lacks request_id=%s", l, id)
			}
			if tt.client != "" && !strings.Contains(l, "client_request_id="+tt.client) {
				t.Errorf("line %q lacks client_request_id=%s", l, tt.client)
			}
			if strings.Contains(l, "forged") {
				t.Errorf("line %q has the caller's bad id", l)
			}
		}
		if !strings.Contains(lines[1], "msg=http.request") || !strings.Contains(lines[1], "status=418") {
			t.Errorf("request line %q", lines[1])
		}
	}
}
