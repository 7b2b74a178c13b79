package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// post sends a query with variables to h and returns the raw answer.
func post(t *testing.T, query string, vars map[string]any) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest("POST", "/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	NewHandler(nil, testLimits, nil).ServeHTTP(rec, req)
	return rec.Body.Bytes()
}

// An answer lists at most MaxErrors errors and one that counts the rest,
// whether the document was refused (3,000 unused variables, 30 KB, were
// answered with 414 KB) or ran and failed field by field.
func TestErrorsCapped(t *testing.T) {
	unused := func(n int) string {
		var q strings.Builder
		q.WriteString("query Q(")
		for i := range n {
			fmt.Fprintf(&q, "$v%d: Int ", i)
		}
		q.WriteString(") { __typename }")
		return q.String()
	}
	aliases := func(n int) string {
		var q strings.Builder
		q.WriteString("query($c: Cursor) {")
		for i := range n {
			fmt.Fprintf(&q, " a%d: files(first: 0, after: $c) { totalCount }", i)
		}
		q.WriteString(" }")
		return q.String()
	}
	forged := map[string]any{"c": "gaF23/////8"}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		errors      int
		code        string
		omitted     int
	}{
		{"3,000 unused variables", unused(3000), nil, MaxErrors + 1, "GRAPHQL_VALIDATION_FAILED", 2950},
		{"51 unused variables, all listed", unused(MaxErrors + 1), nil, MaxErrors + 1, "GRAPHQL_VALIDATION_FAILED", 0},
		{"200 aliases failing", aliases(200), forged, MaxErrors + 1, "BAD_USER_INPUT", 150},
	} {
		body := post(t, tc.query, tc.vars)
		t.Logf("%s: a request of %d bytes answered with %d bytes", tc.name, len(tc.query), len(body))
		var r gqlResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("%s: %v: %.200s", tc.name, err, body)
		}
		if len(r.Errors) != tc.errors {
			t.Errorf("%s: %d errors, want %d", tc.name, len(r.Errors), tc.errors)
			continue
		}
		for _, e := range r.Errors {
			if e.Extensions["code"] != tc.code {
				t.Errorf("%s: error %q has code %v, want %s", tc.name, e.Message, e.Extensions["code"], tc.code)
			}
		}
		last := r.Errors[len(r.Errors)-1]
		if tc.omitted == 0 {
			if last.Extensions["omitted"] != nil {
				t.Errorf("%s: the last error says %q", tc.name, last.Message)
			}
			continue
		}
		if want := fmt.Sprintf("and %d more errors", tc.omitted); last.Message != want || last.Extensions["omitted"] != float64(tc.omitted) {
			t.Errorf("%s: the last error is %q %v, want %q", tc.name, last.Message, last.Extensions, want)
		}
		// 50 errors of at most a few hundred bytes each.
		if len(body) > 20<<10 {
			t.Errorf("%s: answered %d bytes, over 20 KiB", tc.name, len(body))
		}
	}
}
