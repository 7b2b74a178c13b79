package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
)

const testSecret = "test-secret-test-secret-test-secret!"

// token signs an HS256 token for user with roles.
func token(t testing.TB, user string, roles ...string) string {
	t.Helper()
	c := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()}
	if len(roles) > 0 {
		c["roles"] = roles
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newAuthEnv starts a server that verifies tokens signed with testSecret.
func newAuthEnv(t testing.TB, backend string, settings ...string) *env {
	return newEnv(t, backend, append([]string{"AUTH_JWT_SECRET", testSecret}, settings...)...)
}

// Every query and mutation refuses a caller without a valid token.
func TestUnauthenticated(t *testing.T) {
	e := newAuthEnv(t, "sqlite+disk")
	f := e.as(token(t, "alice")).upload("a.txt", "text/plain", []byte("hello"))
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()}).SignedString([]byte(testSecret))
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(strings.Repeat("x", 40)))
	ops := []struct {
		q    string
		vars map[string]any
	}{
		{listQ, nil},
		{`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": f.ID}},
		{`query($id: ID!) { nodes(ids: [$id]) { id } }`, map[string]any{"id": f.ID}},
		{downloadQ, map[string]any{"id": f.ID}},
		{deleteQ, map[string]any{"id": f.ID}},
		{createQ, map[string]any{"files": []map[string]any{{"originalName": "b.txt", "size": 1}}}},
		{saveQ, map[string]any{"files": []map[string]any{{"fileName": f.FileName, "originalName": "a.txt"}}}},
	}
	for _, tok := range []struct{ name, token, says string }{
		{"no token", "", "Bearer"},
		{"expired", expired, "expired"},
		{"bad signature", forged, "signature"},
		{"garbage", "abc", "malformed"},
	} {
		for _, op := range ops {
			err := e.as(tok.token).fail("UNAUTHENTICATED", op.q, op.vars)
			if !strings.Contains(err.Message, tok.says) {
				t.Errorf("%s: message %q does not say %q", tok.name, err.Message, tok.says)
			}
		}
	}
	// Nothing changed: alice's file is whole.
	var c connection
	e.as(token(t, "alice")).do(listQ, nil, &c)
	if c.Files.TotalCount != 1 {
		t.Errorf("alice has %d files after the refused calls, want 1", c.Files.TotalCount)
	}
}

// For every query and mutation, bob's attempt on alice's file fails as if
// the file did not exist, and changes nothing; an admin sees and acts on
// every user's files.
func TestCrossUser(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			body := []byte("alice's bytes")
			f := alice.upload("secret.txt", "text/plain", body)
			pending := alice.createUploads(map[string]any{"originalName": "later.txt", "size": 3})[0]
			alice.put(pending, []byte("abc"))

			var c connection
			bob.do(listQ, nil, &c)
			if c.Files.TotalCount != 0 || len(c.Files.Edges) != 0 {
				t.Errorf("bob lists %d files", c.Files.TotalCount)
			}
			bob.do(listQ, map[string]any{"where": map[string]any{"owner": "alice"}}, &c)
			if c.Files.TotalCount != 0 {
				t.Errorf("bob lists alice's files by filtering on owner")
			}
			var node struct{ Node *fileNode }
			bob.do(`query($id: ID!) { node(id: $id) { id ... on File { fileName } } }`, map[string]any{"id": f.ID}, &node)
			if node.Node != nil {
				t.Errorf("bob resolves alice's node: %+v", node.Node)
			}
			var nodes struct{ Nodes []*fileNode }
			bob.do(`query($id: ID!) { nodes(ids: [$id]) { id } }`, map[string]any{"id": f.ID}, &nodes)
			if len(nodes.Nodes) != 1 || nodes.Nodes[0] != nil {
				t.Errorf("bob resolves alice's nodes: %+v", nodes.Nodes)
			}
			bob.fail("NOT_FOUND", downloadQ, map[string]any{"id": f.ID})
			bob.fail("NOT_FOUND", deleteQ, map[string]any{"id": f.ID})
			for _, key := range []string{f.FileName, pending.FileName} {
				err := bob.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{{"fileName": key, "originalName": map[string]string{f.FileName: "secret.txt", pending.FileName: "later.txt"}[key]}}})
				if !strings.Contains(err.Message, "was not issued") {
					t.Errorf("bob saving alice's key: %q", err.Message)
				}
			}
			// An unknown id reads the same as alice's: existence does not leak.
			missing := bob.fail("NOT_FOUND", downloadQ, map[string]any{"id": "0193a6f4-0000-7000-8000-000000000009"})
			mine := bob.fail("NOT_FOUND", downloadQ, map[string]any{"id": f.ID})
			if missing.Message != mine.Message {
				t.Errorf("messages differ: %q vs %q", missing.Message, mine.Message)
			}

			// Alice still has everything: the file downloads whole, and her
			// pending upload is still hers to save.
			var dl struct{ FileDownloadUrl struct{ URL string } }
			alice.do(downloadQ, map[string]any{"id": f.ID}, &dl)
			if got := get(t, dl.FileDownloadUrl.URL); !bytes.Equal(got, body) {
				t.Errorf("alice downloads %q", got)
			}
			alice.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": pending.FileName, "originalName": "later.txt"}}}, nil)

			// An admin lists both users' files and may delete any.
			g := bob.upload("bob.txt", "text/plain", []byte("bob"))
			admin := e.as(token(t, "root", "admin"))
			admin.do(listQ, nil, &c)
			if c.Files.TotalCount != 3 {
				t.Errorf("admin lists %d files, want 3", c.Files.TotalCount)
			}
			admin.do(downloadQ, map[string]any{"id": f.ID}, &dl)
			admin.do(deleteQ, map[string]any{"id": g.ID}, nil)
			bob.do(listQ, nil, &c)
			if c.Files.TotalCount != 0 {
				t.Errorf("bob's file survived the admin's delete")
			}
			// Admins save only what was issued to them.
			admin.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{{"fileName": f.FileName, "originalName": "secret.txt"}}})
		})
	}
}

func get(t testing.TB, u string) []byte {
	t.Helper()
	res, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d %s", res.StatusCode, b)
	}
	return b
}

func TestLimits(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend,
				"ALLOWED_CONTENT_TYPES", "image/*,application/pdf",
				"MAX_UPLOAD_SIZE", "600",
				"USER_QUOTA_BYTES", "1000",
				"MAX_PENDING_UPLOADS", "3")
			alice := e.as(token(t, "alice"))
			req := func(name, ct string, size int) map[string]any {
				return map[string]any{"originalName": name, "contentType": ct, "size": size}
			}
			err := alice.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []any{req("a.txt", "text/plain", 10)}})
			if !strings.Contains(err.Message, `"text/plain" is not allowed`) || !strings.Contains(err.Message, "image/*") {
				t.Errorf("content type: %q", err.Message)
			}
			err = alice.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []any{req("a.png", "image/png", 700)}})
			if !strings.Contains(err.Message, "over the limit of 600 bytes by 100") {
				t.Errorf("size: %q", err.Message)
			}
			alice.createUploads(req("a.png", "image/png", 100), req("b.pdf", "application/pdf", 100))
			err = alice.fail("FORBIDDEN", createQ, map[string]any{"files": []any{req("c.png", "image/png", 1), req("d.png", "image/png", 1)}})
			if err.Extensions["limit"] != "MAX_PENDING_UPLOADS" || !strings.Contains(err.Message, "1 over the limit of 3") {
				t.Errorf("pending: %+v", err)
			}
			// Quota counts pending uploads (200 bytes) and saved files.
			alice.upload("big.png", "image/png", bytes.Repeat([]byte("x"), 600))
			err = alice.fail("FORBIDDEN", createQ, map[string]any{"files": []any{req("e.png", "image/png", 300)}})
			if err.Extensions["limit"] != "USER_QUOTA_BYTES" || !strings.Contains(err.Message, "100 bytes over your quota of 1000 (600 saved, 200 pending)") {
				t.Errorf("quota: %+v", err)
			}
			// Limits are each user's own.
			e.as(token(t, "bob")).createUploads(req("e.png", "image/png", 600))

			// Concurrent calls cannot squeeze past the quota together:
			// sixteen start at once (off the test goroutine, so results
			// come back under mu, never through t).
			carol := e.as(token(t, "carol"))
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []string
			granted := 0
			start := make(chan struct{})
			for i := range 16 {
				wg.Go(func() {
					<-start
					r, err := carol.send(context.Background(), createQ, map[string]any{"files": []any{req(fmt.Sprintf("%d.png", i), "image/png", 400)}})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil:
						failures = append(failures, err.Error())
					case len(r.Errors) == 0:
						granted++
					case r.Errors[0].code() != "FORBIDDEN":
						failures = append(failures, fmt.Sprintf("%+v", r.Errors))
					}
				})
			}
			close(start)
			wg.Wait()
			if len(failures) > 0 {
				t.Errorf("concurrent creates failed: %v", failures)
			}
			if granted != 2 {
				t.Errorf("%d concurrent 400-byte uploads granted under a 1000-byte quota, want 2", granted)
			}
			checkUsage(t, e)
		})
	}
}

func TestHardenedEndpoint(t *testing.T) {
	e := newAuthEnv(t, "sqlite+disk", "GRAPHQL_MAX_DEPTH", "3", "GRAPHQL_MAX_COMPLEXITY", "500")
	alice := e.as(token(t, "alice"))

	// Production mode: no introspection.
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "File") { name } }`, `query { ...Q } fragment Q on Query { __schema { queryType { name } } }`} {
		err := alice.fail("GRAPHQL_VALIDATION_FAILED", q, nil)
		if !strings.Contains(err.Message, "introspection is disabled") {
			t.Errorf("introspection in production: %+v", err)
		}
	}
	alice.do(`{ __typename files(first: 1) { __typename } }`, nil, nil)
	err := alice.fail("DEPTH_LIMIT_EXCEEDED", `{ files(first: 1) { edges { node { ... on File { id } } } } }`, nil)
	if !strings.Contains(err.Message, "nested 4 levels deep, over the limit of 3") {
		t.Errorf("depth: %q", err.Message)
	}
	alice.do(`{ files(first: 1) { totalCount pageInfo { ...P } } } fragment P on PageInfo { hasNextPage }`, nil, nil)
	alice.fail("COMPLEXITY_LIMIT_EXCEEDED", `{ files(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, nil)
	alice.do(`{ files(first: 20) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, nil, nil)

	// CSRF: bodies a cross-site form can send without a preflight.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		req, _ := http.NewRequest("POST", e.URL+"/query", strings.NewReader(`{"query":"mutation { deleteFile(id: \"0193a6f4-0000-7000-8000-000000000009\") }"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer "+alice.token)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(b), "application/json") {
			t.Errorf("POST %q: %d %s", ct, res.StatusCode, b)
		}
	}
	// Mutations never over GET.
	res, err2 := client.Get(e.URL + "/query?query=" + url.QueryEscape(`mutation { deleteFile(id: "0193a6f4-0000-7000-8000-000000000009") }`))
	if err2 != nil {
		t.Fatal(err2)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("mutation over GET: %d", res.StatusCode)
	}
	// Oversized body.
	big := `{"query":"{ files { totalCount } }","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
	res, err2 = client.Post(e.URL+"/query", "application/json", strings.NewReader(big))
	if err2 != nil {
		t.Fatal(err2)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", res.StatusCode)
	}

	// No playground either: it could not load the schema.
	res, err2 = client.Get(e.URL + "/")
	if err2 != nil {
		t.Fatal(err2)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("playground in production: %d", res.StatusCode)
	}

	// Introspection can be turned on in production.
	on := newAuthEnv(t, "sqlite+disk", "GRAPHQL_INTROSPECTION", "true")
	on.as(token(t, "alice")).do(`{ __schema { queryType { name } } }`, nil, nil)
}

// A server configured with a JWKS URL accepts the provider's RS256 tokens,
// follows a key rotation, and refuses an HS256 token keyed with the public
// key (algorithm confusion).
func TestJWKSEndToEnd(t *testing.T) {
	key1, _ := rsa.GenerateKey(rand.Reader, 2048)
	key2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var mu sync.Mutex
	current := map[string]*rsa.PrivateKey{"k1": key1}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var set jwkset.JWKSMarshal
		for kid, k := range current {
			jwk, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256}})
			if err != nil {
				t.Error(err)
			}
			set.Keys = append(set.Keys, jwk.Marshal())
		}
		json.NewEncoder(w).Encode(set)
	}))
	defer jwks.Close()
	e := newEnv(t, "sqlite+disk", "AUTH_JWKS_URL", jwks.URL, "AUTH_ISSUER", "https://issuer.example", "AUTH_AUDIENCE", "filegraph")
	rs := func(kid string, k *rsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "erin", "iss": "https://issuer.example", "aud": "filegraph", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f := e.as(rs("k1", key1)).upload("a.txt", "text/plain", []byte("a"))

	mu.Lock()
	current = map[string]*rsa.PrivateKey{"k2": key2}
	mu.Unlock()
	var c connection
	e.as(rs("k2", key2)).do(listQ, nil, &c)
	if c.Files.TotalCount != 1 || c.Files.Edges[0].Node.ID != f.ID {
		t.Errorf("after rotation: %+v", c.Files)
	}

	der, _ := x509.MarshalPKIXPublicKey(&key2.PublicKey)
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "erin", "iss": "https://issuer.example", "aud": "filegraph", "exp": time.Now().Add(time.Hour).Unix()})
	confused.Header["kid"] = "k2"
	s, _ := confused.SignedString(der)
	e.as(s).fail("UNAUTHENTICATED", listQ, nil)
}

// Without a token, over POST and GET, the fragment chain at n=30
// (2^30 selections when followed naively; n=26 took 24 s) is refused with
// a clear error before anything else runs. The judge's work is counted in
// graph's TestFragmentChainRefusedFast; the time here is only logged.
func TestFragmentChainWithoutToken(t *testing.T) {
	e := newAuthEnv(t, "sqlite+disk")
	var b strings.Builder
	b.WriteString("query{...F0}")
	for i := range 30 {
		fmt.Fprintf(&b, " fragment F%d on Query{...F%d ...F%d}", i, i+1, i+1)
	}
	b.WriteString(" fragment F30 on Query{__typename}")
	q := b.String()

	start := time.Now()
	err := e.fail("COMPLEXITY_LIMIT_EXCEEDED", q, nil)
	if !strings.Contains(err.Message, "exceeds the limit of 5000") {
		t.Errorf("POST: %q", err.Message)
	}
	res, err2 := client.Get(e.URL + "/query?query=" + url.QueryEscape(q))
	if err2 != nil {
		t.Fatal(err2)
	}
	var r gqlResponse
	json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if len(r.Errors) != 1 || r.Errors[0].code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("GET: %d %+v", res.StatusCode, r.Errors)
	}
	t.Logf("two refusals: %v", time.Since(start))
}

// In development mode (every request acts as the local user) only requests
// addressed to a loopback host or PUBLIC_URL's host are answered: a page
// whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing.
func TestDevelopmentModeHosts(t *testing.T) {
	e := newEnv(t, "sqlite+disk", "PUBLIC_URL", "http://files.test:8080")
	_, port, _ := strings.Cut(strings.TrimPrefix(e.URL, "http://"), ":")
	for host, want := range map[string]int{
		"127.0.0.1:" + port:          http.StatusOK,
		"localhost:" + port:          http.StatusOK,
		"[::1]:" + port:              http.StatusOK,
		"files.test:8080":            http.StatusOK,
		"FILES.test":                 http.StatusOK,
		"rebind.attacker.example":    http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:" + port:   http.StatusMisdirectedRequest,
		"localhost.attacker.example": http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequest("POST", e.URL+"/query", strings.NewReader(`{"query":"{ files { totalCount } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, res.StatusCode, want)
		}
	}
	// With auth on, a token is the guard and any Host is answered.
	a := newAuthEnv(t, "sqlite+disk")
	req, _ := http.NewRequest("GET", a.URL+"/healthz", nil)
	req.Host = "api.example.com"
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("auth on, Host api.example.com: %d", res.StatusCode)
	}
}

// Input the database cannot take is the client's mistake, refused with
// BAD_USER_INPUT (or UNAUTHENTICATED) before it reaches SQL: before, each
// was an INTERNAL_SERVER_ERROR logged at ERROR.
func TestInputTheDatabaseCannotTake(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice := e.as(token(t, "alice"))
			alice.upload("a.txt", "text/plain", []byte("a"))

			many := make([]string, 70_001) // past both drivers' parameter limits
			for i := range many {
				many[i] = "x"
			}
			deep := map[string]any{"fileName": "a"}
			for range 5000 {
				deep = map[string]any{"not": deep}
			}
			forged := func(v any) string {
				var b bytes.Buffer
				w := base64.NewEncoder(base64.RawStdEncoding, &b)
				if err := msgpack.NewEncoder(w).Encode(struct {
					ID    uuid.UUID `msgpack:"i"`
					Value any       `msgpack:"v,omitempty"`
				}{uuid.New(), v}); err != nil {
					t.Fatal(err)
				}
				w.Close()
				return b.String()
			}
			for _, tc := range []struct {
				name, says string
				vars       map[string]any
			}{
				{"long In list", "at most 100", map[string]any{"where": map[string]any{"fileNameIn": many}}},
				{"many terms", "at most 500", map[string]any{"where": map[string]any{"or": func() []any {
					var or []any
					for range 100 {
						or = append(or, map[string]any{"fileNameIn": many[:10]})
					}
					return or
				}()}}},
				{"not 5,000 deep", "more than 8 deep", map[string]any{"where": deep}},
				{"NUL in a where string", "NUL", map[string]any{"where": map[string]any{"fileNameContains": "a\x00b"}}},
				{"cursor holding a map", "not a cursor", map[string]any{"after": forged(map[string]any{"a": 1})}},
				{"cursor holding a list", "not a cursor", map[string]any{"before": forged([]any{1, 2}), "last": 1}},
				{"cursor of another order", "not a cursor", map[string]any{"after": forged("a.txt"), "orderBy": map[string]any{"field": "SIZE", "direction": "ASC"}}},
			} {
				err := alice.fail("BAD_USER_INPUT", listQ, tc.vars)
				if !strings.Contains(err.Message+fmt.Sprint(err.Extensions["problems"]), tc.says) {
					t.Errorf("%s: %q %v", tc.name, err.Message, err.Extensions["problems"])
				}
			}
			// Legitimate filters and cursors still work.
			var c connection
			alice.do(listQ, map[string]any{"first": 1, "where": map[string]any{"or": []any{map[string]any{"fileNameIn": many[:100]}, map[string]any{"not": map[string]any{"originalNameContains": "zzz"}}}}}, &c)
			if c.Files.TotalCount != 1 {
				t.Errorf("legitimate filter: %d files", c.Files.TotalCount)
			}
			alice.do(listQ, map[string]any{"first": 1, "after": *c.Files.PageInfo.EndCursor}, nil)
			alice.do(listQ, map[string]any{"first": 1, "after": forged(int64(3)), "orderBy": map[string]any{"field": "SIZE", "direction": "ASC"}}, nil)

			err := alice.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{{"fileName": "files/a\x00b", "originalName": "a"}}})
			if !strings.Contains(fmt.Sprint(err.Extensions["problems"]), "was not issued") {
				t.Errorf("NUL in fileName: %+v", err)
			}
			err = e.as(token(t, "al\x00ice")).fail("UNAUTHENTICATED", listQ, nil)
			if !strings.Contains(err.Message, "not a user id") {
				t.Errorf("NUL in sub: %q", err.Message)
			}
		})
	}
}

// A forged cursor costs no more than its request's size, without a token:
// "gaF23/////8" (a msgpack map declaring 2^32 entries) made entgql's decoder
// allocate 84 MB before failing, once for the judge's pricing and once for
// the field, so 200 aliases of it allocated GBs (issue 23).
func TestForgedCursorWithoutToken(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			var q strings.Builder
			q.WriteString("query($c: Cursor) {")
			for i := range 200 {
				fmt.Fprintf(&q, " a%d: files(first: 0, after: $c) { totalCount }", i)
			}
			q.WriteString(" }")
			e.post(q.String(), map[string]any{"c": "AA"}) // warm: the server's first request

			// The whole process's allocations: the server's and the
			// test's own few (the request and its answer).
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			r := e.post(q.String(), map[string]any{"c": "gaF23/////8"})
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: 200 aliases of a forged cursor: %d errors, %.1f MB allocated, %v", backend, len(r.Errors), float64(alloc)/(1<<20), took)
			if len(r.Errors) == 0 || r.Errors[0].code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "not a cursor this server issued") {
				t.Fatalf("errors %+v, want BAD_USER_INPUT not a cursor this server issued", r.Errors)
			}
			if alloc > 20<<20 {
				t.Errorf("the request allocated %.1f MB, over 20 MB", float64(alloc)/(1<<20))
			}
		})
	}
}
