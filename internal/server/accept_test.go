package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// A query POSTed with urql's Accept (JSON first, text/event-stream last) is
// answered as JSON; only a client that asks for an event stream first
// (graphql-sse: Accept: text/event-stream) gets one. Answered as a stream,
// urql's fetch was aborted after the first result: an unhandled AbortError
// in every page using the typed client.
func TestAcceptPicksTheTransport(t *testing.T) {
	e := newEnv(t, "sqlite+disk")
	for _, tt := range []struct{ accept, want string }{
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", "application/graphql-response+json"},
		{"application/json", "application/json"},
		{"text/event-stream", "text/event-stream"},
	} {
		req, _ := http.NewRequest("POST", e.URL+"/query", bytes.NewReader([]byte(`{"query":"{ collections { name } }"}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", tt.accept)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, tt.want) {
			t.Errorf("Accept %q: %d %q, want %s", tt.accept, res.StatusCode, ct, tt.want)
		}
	}
}
