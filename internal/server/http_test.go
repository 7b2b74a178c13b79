package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGraphQLOverHTTP checks the GraphQL over HTTP spec's rules that
// clients depend on.
func TestGraphQLOverHTTP(t *testing.T) {
	e := newEnv(t, "sqlite+disk")
	send := func(method, path, contentType, accept, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	const gqlResp = "application/graphql-response+json"
	query := `{"query":"{ files(first: 1) { totalCount } }"}`

	res, body := send("POST", "/query", "application/json", gqlResp, query)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), gqlResp) || !strings.Contains(body, `"totalCount":0`) {
		t.Errorf("POST accepting %s: %d %q %s", gqlResp, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// Data alone is written around gqlgen's JSON, with its length.
	if want := `{"data":{"files":{"totalCount":0}}}`; body != want || res.ContentLength != int64(len(want)) {
		t.Errorf("answer %s with Content-Length %d, want %s with %d", body, res.ContentLength, want, len(want))
	}
	res, _ = send("POST", "/query", "application/json; charset=utf-8", "application/json", query)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("POST accepting application/json: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for name, q := range map[string]string{
		"ParseError":      `{"query":"{ files(first: 1) { "}`,
		"ValidationError": `{"query":"{ nope }"}`,
		"NotJSON":         `{"query":`,
	} {
		res, body = send("POST", "/query", "application/json", gqlResp, q)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s with %s: status %d, want 400: %s", name, gqlResp, res.StatusCode, body)
		}
		var r gqlResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Errors) == 0 {
			t.Errorf("%s: body %s is not a GraphQL error response", name, body)
		}
	}

	get := "/query?query=" + url.QueryEscape("{ files(first: 1) { totalCount } }")
	res, body = send("GET", get, "", "application/json", "")
	if res.StatusCode != 200 || !strings.Contains(body, `"totalCount":0`) {
		t.Errorf("query over GET: %d %s", res.StatusCode, body)
	}
	mutation := "/query?query=" + url.QueryEscape(`mutation { deleteFile(id: "01890a5d-ac96-774b-bcce-b302099a8057") }`)
	res, body = send("GET", mutation, "", "application/json", "")
	if res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(res.Header.Get("Allow"), "POST") {
		t.Errorf("mutation over GET: %d Allow %q, want 405 allowing POST: %s", res.StatusCode, res.Header.Get("Allow"), body)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		res, _ = send("POST", "/query", ct, "", query)
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("POST with Content-Type %q: status %d, want 4xx", ct, res.StatusCode)
		}
	}
	big := `{"query":"{ files { totalCount } }","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
	res, _ = send("POST", "/query", "application/json", gqlResp, big)
	if res.StatusCode < 400 || res.StatusCode >= 500 {
		t.Errorf("oversized body: status %d, want 4xx", res.StatusCode)
	}

	res, body = send("GET", "/", "", "text/html", "")
	if res.StatusCode != 200 || !strings.Contains(body, "/query") {
		t.Errorf("playground: %d", res.StatusCode)
	}
	res, _ = send("GET", "/healthz", "", "", "")
	if res.StatusCode != 200 {
		t.Errorf("healthz: %d", res.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, "sqlite+disk", "CORS_ALLOWED_ORIGINS", "https://app.example")
	preflight := func(path, origin, method, headers string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", headers)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, p := range []struct{ path, method, headers string }{
		{"/query", "POST", "content-type"},
		{"/storage/files/abc.txt", "PUT", "content-type,x-amz-checksum-sha256"},
	} {
		res := preflight(p.path, "https://app.example", p.method, p.headers)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), p.method) {
			t.Errorf("preflight %s from an allowed origin: %d %v", p.path, res.StatusCode, res.Header)
		}
		res = preflight(p.path, "https://evil.example", p.method, p.headers)
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s from another origin was allowed", p.path)
		}
	}
}
