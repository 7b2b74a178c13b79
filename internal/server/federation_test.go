package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// entitiesQ asks for File references as a supergraph's router does.
const entitiesQ = `query($r: [_Any!]!) { _entities(representations: $r) {
	... on File { id originalName size downloadUrl { url } } } }`

type entity struct {
	ID, OriginalName string
	Size             int64
	DownloadURL      struct{ URL string }
}

func refs(ids ...string) []map[string]any {
	out := make([]map[string]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"__typename": "File", "id": id}
	}
	return out
}

// _entities resolves a user's own files by id, in the order asked, with
// links that download the right bytes; another user's file and an id that
// never existed are both null, with no error to tell them apart; an admin
// resolves every file; no token is UNAUTHENTICATED; a representation that
// is not a File's is the router's mistake (BAD_USER_INPUT), never an
// internal error.
func TestEntities(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			a1 := alice.upload("one.txt", "text/plain", []byte("alice's first"))
			a2 := alice.upload("two.txt", "text/plain", []byte("alice's second, longer"))
			b1 := bob.upload("bob.txt", "text/plain", []byte("bob's"))
			missing := "0193a6f4-0000-7000-8000-000000000009"
			asked := refs(a1.ID, b1.ID, missing, a2.ID)

			r := alice.post(entitiesQ, map[string]any{"r": asked})
			if len(r.Errors) > 0 {
				t.Fatalf("errors: %+v", r.Errors)
			}
			var got struct {
				Entities []*entity `json:"_entities"`
			}
			json.Unmarshal(r.Data, &got)
			if len(got.Entities) != 4 || got.Entities[1] != nil || got.Entities[2] != nil || got.Entities[0] == nil || got.Entities[3] == nil {
				t.Fatalf("alice's entities: %s, want hers at 0 and 3, null at 1 (bob's) and 2 (missing)", r.Data)
			}
			for i, want := range map[int]struct {
				f    fileNode
				body string
			}{0: {a1, "alice's first"}, 3: {a2, "alice's second, longer"}} {
				g := got.Entities[i]
				if g.ID != want.f.ID || g.OriginalName != want.f.OriginalName || g.Size != int64(len(want.body)) {
					t.Errorf("entity %d: %+v, want %+v", i, g, want.f)
				}
				if b := get(t, g.DownloadURL.URL); string(b) != want.body {
					t.Errorf("entity %d downloads %q, want %q", i, b, want.body)
				}
			}

			var admin struct {
				Entities []*entity `json:"_entities"`
			}
			e.as(token(t, "root", "admin")).do(entitiesQ, map[string]any{"r": asked}, &admin)
			if len(admin.Entities) != 4 || admin.Entities[1] == nil || admin.Entities[1].ID != b1.ID || admin.Entities[2] != nil {
				t.Errorf("admin's entities: %+v, want all but the missing id", admin.Entities)
			}
			if b := get(t, admin.Entities[1].DownloadURL.URL); string(b) != "bob's" {
				t.Errorf("admin downloads bob's file as %q", b)
			}

			e.fail("UNAUTHENTICATED", entitiesQ, map[string]any{"r": asked})
			for _, bad := range [][]map[string]any{
				{{"__typename": "File", "id": "not-a-uuid"}},
				{{"__typename": "User", "id": a1.ID}},
				{{"id": a1.ID}},
				{{"__typename": "File"}},
			} {
				err := alice.fail("BAD_USER_INPUT", entitiesQ, map[string]any{"r": bad})
				if !strings.Contains(err.Message, "_entities: each representation") {
					t.Errorf("%v: %q", bad, err.Message)
				}
			}
			if strings.Contains(e.logs.String(), "graphql.internal_error") {
				t.Errorf("a representation was logged as an internal error:\n%s", e.logs)
			}
		})
	}
}

// _entities for 100 files is one SQL statement, whichever the backend:
// the resolver is gqlgen's batched one (@entityResolver(multi: true)),
// and downloadUrl presigns from the row it has. 100 fileDownloadUrl
// calls, one request each, make 100.
func TestEntitiesInOneQuery(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			col := newCollector(t) // before the server: it must outlive the last export
			e := newAuthEnv(t, backend, "OTEL_EXPORTER_OTLP_ENDPOINT", col.URL, "SWEEP_INTERVAL", "0")
			alice := e.as(token(t, "alice"))
			ids := uploadMany(t, alice, 100)

			traceID := make([]byte, 16)
			rand.Read(traceID)
			var got struct {
				Entities []*entity `json:"_entities"`
			}
			alice.traced(traceID, entitiesQ, map[string]any{"r": refs(ids...)}, &got)
			for i, g := range got.Entities {
				if g == nil || g.ID != ids[i] || g.DownloadURL.URL == "" {
					t.Fatalf("entity %d: %+v, want file %s with a link", i, g, ids[i])
				}
			}
			if err := e.srv.tracing.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := statements(col, traceID); n != 1 {
				t.Errorf("_entities with 100 representations made %d SQL statements, want 1", n)
			}

			// The same links one by one, as before File.downloadUrl.
			one := make([]byte, 16)
			rand.Read(one)
			for _, id := range ids {
				alice.traced(one, downloadQ, map[string]any{"id": id}, nil)
			}
			e.srv.tracing.ForceFlush(t.Context())
			if n := statements(col, one); n != 100 {
				t.Errorf("100 fileDownloadUrl calls made %d SQL statements, want 100", n)
			}
		})
	}
}

// uploadMany uploads n small files as one batch and returns their ids.
func uploadMany(t *testing.T, e *env, n int) []string {
	t.Helper()
	reqs := make([]map[string]any, n)
	for i := range reqs {
		reqs[i] = map[string]any{"originalName": fmt.Sprintf("f%03d.txt", i), "size": 4}
	}
	urls := e.createUploads(reqs...)
	saves := make([]map[string]any, n)
	for i, u := range urls {
		e.put(u, fmt.Appendf(nil, "%04d", i))
		saves[i] = map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
	}
	var out struct{ SaveFiles []fileNode }
	e.do(saveQ, map[string]any{"files": saves}, &out)
	ids := make([]string, n)
	for i, f := range out.SaveFiles {
		ids[i] = f.ID
	}
	return ids
}

// traced posts a request that must succeed, in the trace traceID, with the
// env's token.
func (e *env) traced(traceID []byte, query string, vars map[string]any, out any) {
	e.t.Helper()
	span := make([]byte, 8)
	rand.Read(span)
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("traceparent", "00-"+hex.EncodeToString(traceID)+"-"+hex.EncodeToString(span)+"-01")
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		e.t.Fatalf("%s: %v %+v", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// statements counts the SQL statements of a trace.
func statements(col *collector, traceID []byte) int {
	n := 0
	for _, s := range col.trace(traceID) {
		if attr(s, "db.query.text") != "" {
			n++
		}
	}
	return n
}

// _entities and File.downloadUrl are operations like any other: the depth
// and complexity limits judge them (each representation and each link a
// list item), and under trusted documents only a listed _entities runs.
// _service answers with introspection off, with what subgraph.graphql
// holds, but never lets __schema through with it.
func TestEntitiesUnderLimits(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	listed := `query($r: [_Any!]!) { _entities(representations: $r) { ... on File { id } } }`
	os.WriteFile(manifest, fmt.Appendf(nil, `{"h1": %q, "h2": %q}`, listed, entitiesQ), 0o644)

	e := newAuthEnv(t, "sqlite+disk", "GRAPHQL_MAX_DEPTH", "5", "GRAPHQL_MAX_COMPLEXITY", "300")
	alice := e.as(token(t, "alice"))
	ids := uploadMany(t, alice, 3)

	// 100 references with a link each: 1 + 100 * (1 + 1 + 1 + (1 + 1)) = 501.
	many := make([]string, 100)
	for i := range many {
		many[i] = ids[i%3]
	}
	err := alice.fail("COMPLEXITY_LIMIT_EXCEEDED", entitiesQ, map[string]any{"r": refs(many...)})
	if !strings.Contains(err.Message, "complexity 501") {
		t.Errorf("complexity: %q", err.Message)
	}
	alice.do(entitiesQ, map[string]any{"r": refs(many[:40]...)}, nil)
	// 1 + 100 * (1 + (1 + (1 + 1))) = 401
	alice.fail("COMPLEXITY_LIMIT_EXCEEDED", `{ files(first: 100) { edges { node { downloadUrl { url } } } } }`, nil)
	var page struct {
		Files struct{ Edges []struct{ Node entity } }
	}
	alice.do(`{ files(first: 3) { edges { node { id downloadUrl { url } } } } }`, nil, &page)
	for _, edge := range page.Files.Edges {
		if b := get(t, edge.Node.DownloadURL.URL); len(b) != 4 {
			t.Errorf("files' downloadUrl gave %q", b)
		}
	}

	// Introspection is off here (production mode), and _service answers.
	alice.fail("GRAPHQL_VALIDATION_FAILED", `{ __schema { queryType { name } } }`, nil)
	var svc struct {
		Service struct{ SDL string } `json:"_service"`
	}
	e.do(`{ _service { sdl } }`, nil, &svc)
	want, readErr := os.ReadFile("../../subgraph.graphql")
	if readErr != nil {
		t.Fatal(readErr)
	}
	if svc.Service.SDL != string(want) {
		t.Errorf("_service answers %d bytes that differ from subgraph.graphql's %d: run go generate", len(svc.Service.SDL), len(want))
	}
	err = e.fail("GRAPHQL_VALIDATION_FAILED", `{ _service { sdl } __schema { queryType { name } } }`, nil)
	if !strings.Contains(err.Message, "introspection is disabled") {
		t.Errorf("_service with __schema: %q", err.Message)
	}

	trusted := newAuthEnv(t, "sqlite+disk", "GRAPHQL_TRUSTED_DOCUMENTS", manifest, "GRAPHQL_MAX_DEPTH", "2")
	talice := trusted.as(token(t, "alice"))
	talice.fail("UNTRUSTED_OPERATION", `query($r: [_Any!]!) { _entities(representations: $r) { ... on File { size } } }`, map[string]any{"r": refs(ids[0])})
	// Listed, but _entities, downloadUrl and url are 3 deep.
	talice.fail("DEPTH_LIMIT_EXCEEDED", entitiesQ, map[string]any{"r": refs(ids[0])})
	var listedOut struct {
		Entities []*entity `json:"_entities"`
	}
	talice.do(listed, map[string]any{"r": refs(ids[0])}, &listedOut)
	if len(listedOut.Entities) != 1 || listedOut.Entities[0] != nil {
		// Another server's database: alice's id from e is unknown here.
		t.Errorf("listed _entities: %+v", listedOut.Entities)
	}
}

// The subgraph SDL is what composition needs, and says no more than the
// client schema: Federation v2 by @link, File an entity by @key(fields:
// "id"), no @external field left for another subgraph to resolve, and
// every type and field in it is in schema.graphql, but for federation's.
func TestSubgraphSDL(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sub := read("subgraph.graphql")
	if !strings.Contains(sub, `@link(url: "https://specs.apollo.dev/federation/v2.`) || !strings.Contains(sub, `import: ["@key"]`) {
		t.Error("subgraph.graphql does not @link federation v2 importing @key")
	}
	if strings.Contains(sub, "@external") || strings.Contains(sub, "@requires") {
		t.Error("subgraph.graphql leaves fields to other subgraphs (@external, @requires)")
	}
	// Parsed as a subgraph is: federation's definitions come with it.
	subSchema, err := gqlparser.LoadSchema(&ast.Source{Name: "federation", BuiltIn: true, Input: federationDefs}, &ast.Source{Name: "subgraph.graphql", Input: sub})
	if err != nil {
		t.Fatalf("subgraph.graphql does not parse: %v", err)
	}
	file := subSchema.Types["File"]
	if file == nil || file.Directives.ForName("key") == nil || file.Directives.ForName("key").Arguments.ForName("fields").Value.Raw != "id" {
		t.Fatal("File has no @key(fields: \"id\")")
	}
	client, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: read("schema.graphql")})
	if err != nil {
		t.Fatalf("schema.graphql does not parse: %v", err)
	}
	for name, def := range subSchema.Types {
		if def.BuiltIn || def.Position.Src.BuiltIn {
			continue
		}
		c := client.Types[name]
		if c == nil {
			t.Errorf("subgraph.graphql has type %s, schema.graphql does not", name)
			continue
		}
		for _, f := range def.Fields {
			if f.Position != nil && f.Position.Src.BuiltIn {
				continue
			}
			if !slices.ContainsFunc(c.Fields, func(cf *ast.FieldDefinition) bool { return cf.Name == f.Name }) {
				t.Errorf("subgraph.graphql has %s.%s, schema.graphql does not", name, f.Name)
			}
		}
	}
}

// federationDefs are the definitions a subgraph's @link brings in, as far
// as subgraph.graphql uses them.
const federationDefs = `
scalar FieldSet
scalar link__Import
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
`
