package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/filegraph/filegraph/internal/config"
)

// manifestPath is the web client's persisted-documents manifest, made by
// graphql-codegen from web/src: the test runs the real client's documents.
const manifestPath = "../../web/src/gql/persisted-documents.json"

// postRaw sends a GraphQL request body as given.
func (e *env) postRaw(body map[string]any) gqlResponse {
	e.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.URL+"/query", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatalf("decoding response (status %d): %v", res.StatusCode, err)
	}
	return out
}

func TestTrustedDocuments(t *testing.T) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]string
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{} // operation name → hash
	for hash, doc := range manifest {
		name := strings.Fields(doc)[1]
		name, _, _ = strings.Cut(name, "(")
		docs[name] = hash
	}
	filesHash, createHash := docs["Files"], docs["CreateUploadUrls"]
	if filesHash == "" || createHash == "" {
		t.Fatalf("manifest lacks Files or CreateUploadUrls: %v", docs)
	}

	e := newEnv(t, "sqlite+disk", "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
	persisted := func(hash string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.TrimPrefix(hash, "sha256:")}}
	}
	want := func(name string, r gqlResponse, code string) {
		t.Helper()
		if code == "" {
			if len(r.Errors) > 0 || len(r.Data) == 0 || string(r.Data) == "null" {
				t.Fatalf("%s: errors %+v, data %s", name, r.Errors, r.Data)
			}
			return
		}
		if len(r.Errors) != 1 || r.Errors[0].code() != code {
			t.Errorf("%s: %+v, want %s", name, r.Errors, code)
		}
	}

	// The whole flow by hash, as the web client sends it: the manifest's
	// text runs.
	body := []byte("hello")
	r := e.postRaw(map[string]any{"extensions": persisted(docs["CreateUploadUrls"]), "variables": map[string]any{
		"files": []map[string]any{{"originalName": "trusted.txt", "size": len(body)}},
	}})
	want("CreateUploadUrls by hash", r, "")
	var created struct{ CreateUploadUrls []uploadURL }
	json.Unmarshal(r.Data, &created)
	e.put(created.CreateUploadUrls[0], body)
	r = e.postRaw(map[string]any{"extensions": persisted(docs["SaveFiles"]), "variables": map[string]any{
		"files": []map[string]any{{"fileName": created.CreateUploadUrls[0].FileName, "originalName": "trusted.txt"}},
	}})
	want("SaveFiles by hash", r, "")
	r = e.postRaw(map[string]any{"extensions": persisted(filesHash), "variables": map[string]any{"first": 10}})
	want("Files by hash", r, "")
	if !strings.Contains(string(r.Data), "trusted.txt") {
		t.Errorf("Files by hash did not list the saved file: %s", r.Data)
	}
	// The "sha256:" form of the hash too, and a mutation with variables.
	r = e.postRaw(map[string]any{"extensions": persisted("sha256:" + createHash), "variables": map[string]any{
		"files": []map[string]any{{"originalName": "a.txt", "size": 3}},
	}})
	want("CreateUploadUrls by prefixed hash", r, "")
	// By its exact text, with no hash.
	want("Files by text", e.postRaw(map[string]any{"query": manifest[filesHash]}), "")

	// Anything else is refused before it is parsed.
	want("other text", e.postRaw(map[string]any{"query": "{ files { totalCount } }"}), "UNTRUSTED_OPERATION")
	want("introspection", e.postRaw(map[string]any{"query": "{ __schema { queryType { name } } }"}), "UNTRUSTED_OPERATION")
	want("unknown hash", e.postRaw(map[string]any{"extensions": persisted(strings.Repeat("ab", 32))}), "PERSISTED_QUERY_NOT_FOUND")
	// A known hash cannot vouch for another text, nor an unknown one for any.
	want("known hash, other text", e.postRaw(map[string]any{
		"query": "{ files { totalCount } }", "extensions": persisted(filesHash),
	}), "UNTRUSTED_OPERATION")
	want("unknown hash, other text", e.postRaw(map[string]any{
		"query": "{ files { totalCount } }", "extensions": persisted(strings.Repeat("cd", 32)),
	}), "UNTRUSTED_OPERATION")
	// GET works by hash too (the APQ form).
	ext, _ := json.Marshal(persisted(filesHash))
	res, err := client.Get(e.URL + "/query?extensions=" + url.QueryEscape(string(ext)))
	if err != nil {
		t.Fatal(err)
	}
	var got gqlResponse
	json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	want("Files by hash over GET", got, "")

	// No playground: it needs introspection.
	res, err = client.Get(e.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("playground with trusted documents: %d", res.StatusCode)
	}
}

func TestTrustedDocumentsConfig(t *testing.T) {
	_, err := config.Load(func(k string) string {
		return map[string]string{"GRAPHQL_TRUSTED_DOCUMENTS": manifestPath, "GRAPHQL_INTROSPECTION": "true"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "GRAPHQL_INTROSPECTION") {
		t.Errorf("introspection with trusted documents: %v", err)
	}
	for name, content := range map[string]string{"missing": "", "not JSON": "[1]", "empty": "{}"} {
		path := t.TempDir() + "/manifest.json"
		if content != "" {
			os.WriteFile(path, []byte(content), 0o644)
		}
		cfg, err := config.Load(func(k string) string {
			return map[string]string{"GRAPHQL_TRUSTED_DOCUMENTS": path, "DATA_DIR": t.TempDir()}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "GRAPHQL_TRUSTED_DOCUMENTS") {
			t.Errorf("%s manifest: %v", name, err)
		}
	}
}
