package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/filegraph/filegraph/internal/config"
)

var quiet = slog.New(slog.DiscardHandler)

const secret = "0123456789abcdef0123456789abcdef"

func claims(sub string, extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func hs256(t *testing.T, key string, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key crypto.Signer, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newAuth(t *testing.T, cfg config.Auth) *Authenticator {
	t.Helper()
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.AdminRole == "" {
		cfg.AdminRole = "admin"
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := New(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustRefuse(t *testing.T, a *Authenticator, token, want string) {
	t.Helper()
	_, err := a.Verify(token)
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), want) {
		t.Errorf("Verify = %v, want UNAUTHENTICATED saying %q", err, want)
	}
}

func TestSecret(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret), Issuer: "https://issuer.example", Audience: "filegraph", Leeway: 30 * time.Second})
	good := jwt.MapClaims{"iss": "https://issuer.example", "aud": "filegraph"}

	u, err := a.Verify(hs256(t, secret, claims("alice", good)))
	if err != nil || u != (User{ID: "alice"}) {
		t.Fatalf("Verify = %+v, %v", u, err)
	}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		c := claims("alice", good)
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	// Inside the leeway an expired token still passes.
	if _, err := a.Verify(hs256(t, secret, with(jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()}))); err != nil {
		t.Errorf("token expired within the leeway: %v", err)
	}
	mustRefuse(t, a, hs256(t, strings.Repeat("x", 32), with(nil)), "signature")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})), "expired")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"nbf": time.Now().Add(time.Minute).Unix()})), "not valid yet")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"exp": nil})), "no expiry")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"iss": nil})), "no issuer")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"aud": nil})), "no audience")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"aud": []any{}})), "no audience")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"iss": ""})), "no issuer")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"iss": "https://evil.example"})), "issuer")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"aud": "other"})), "audience")
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"sub": nil})), `"sub" claim`)
	mustRefuse(t, a, hs256(t, secret, with(jwt.MapClaims{"sub": 42})), `"sub" claim`)
	mustRefuse(t, a, "not.a.token", "malformed")

	// alg none, with and without a signature.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, with(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, a, none, "signature")
	mustRefuse(t, a, none+"c2ln", "")

	// Another HMAC strength, signed with the right secret, is still refused:
	// only HS256 is configured.
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, with(nil)).SignedString([]byte(secret))
	mustRefuse(t, a, hs512, "signature")

	// An RS256 token is refused by a secret-configured server.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	mustRefuse(t, a, sign(t, jwt.SigningMethodRS256, "k", rsaKey, with(nil)), "signature")
}

// TestMaxTokenAge: AUTH_MAX_TOKEN_AGE bounds exp - iat, or exp - now when
// the token has no iat or one in the future; 0 bounds nothing.
func TestMaxTokenAge(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret), MaxTokenAge: 24 * time.Hour, Leeway: 30 * time.Second})
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, c := range []struct {
		name     string
		iat, exp any // nil: no such claim
		ok       bool
	}{
		{"an hour", at(0), at(time.Hour), true},
		{"24h exactly", at(-time.Hour), at(23 * time.Hour), true},
		{"no iat, 23h left", nil, at(23 * time.Hour), true},
		{"exp 10^18", at(0), 1e18, false},
		{"no iat, exp 10^18", nil, 1e18, false},
		{"issued an hour ago for 24h", at(-time.Hour), at(24 * time.Hour), false},
		{"no iat, 25h left", nil, at(25 * time.Hour), false},
		// An iat in the future cannot shorten the lifetime: it runs from now.
		{"iat in the future", at(1000 * time.Hour), at(1001 * time.Hour), false},
	} {
		cl := jwt.MapClaims{"sub": "alice", "exp": c.exp}
		if c.iat != nil {
			cl["iat"] = c.iat
		}
		_, err := a.Verify(hs256(t, secret, cl))
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && (!errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "AUTH_MAX_TOKEN_AGE")) {
			t.Errorf("%s: Verify = %v, want UNAUTHENTICATED naming AUTH_MAX_TOKEN_AGE", c.name, err)
		}
	}
	unbounded := newAuth(t, config.Auth{JWTSecret: []byte(secret)})
	if _, err := unbounded.Verify(hs256(t, secret, jwt.MapClaims{"sub": "alice", "exp": 1e18})); err != nil {
		t.Errorf("AUTH_MAX_TOKEN_AGE=0 refused a long token: %v", err)
	}
}

// TestCriticalHeader: a token whose crit names extensions is refused (RFC
// 7515 4.1.11: this server understands none), however well it is signed.
func TestCriticalHeader(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret)})
	for _, crit := range []any{[]any{"exp"}, []any{"b64"}, []any{"http://example.com/x"}, []any{}} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("alice", nil))
		tok.Header["crit"] = crit
		tok.Header["b64"] = true
		s, err := tok.SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, a, s, "crit")
	}
}

// TestClaimTypes: a signed token whose registered claim has the wrong JSON
// type is told which claim and what it is, not that its signature is bad.
func TestClaimTypes(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret), Issuer: "https://issuer.example", Audience: "filegraph"})
	good := jwt.MapClaims{"iss": "https://issuer.example", "aud": "filegraph"}
	for _, c := range []struct {
		claim string
		value any
		want  string
	}{
		{"exp", "9999999999", `"exp" claim is a string`},
		{"exp", nil, `"exp" claim is null`},
		{"nbf", true, `"nbf" claim is a boolean`},
		{"iss", 7, `"iss" claim is a number`},
		{"aud", map[string]any{}, `"aud" claim is an object`},
		{"aud", []any{"filegraph", 1}, `"aud" claim is a list, not a string or a list of strings`},
		{"aud", nil, `"aud" claim is null`},
	} {
		cl := claims("alice", good)
		cl[c.claim] = c.value
		_, err := a.Verify(hs256(t, secret, cl))
		if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %#v: Verify = %v, want UNAUTHENTICATED saying %s", c.claim, c.value, err, c.want)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		path  string
		sep   string // AUTH_ROLES_SEPARATOR as config reads it
		roles jwt.MapClaims
		admin bool
	}{
		{"roles", "", jwt.MapClaims{"roles": []any{"user", "admin"}}, true},
		{"roles", "", jwt.MapClaims{"roles": "admin"}, true},
		// A string is one role unless a separator is configured.
		{"roles", "", jwt.MapClaims{"roles": "super admin"}, false},
		{"roles", "", jwt.MapClaims{"roles": "user,admin"}, false},
		{"roles", "", jwt.MapClaims{"roles": []any{"super admin"}}, false},
		{"roles", " ", jwt.MapClaims{"roles": "user  admin"}, true},
		{"roles", " ", jwt.MapClaims{"roles": "superadmin"}, false},
		{"roles", ",", jwt.MapClaims{"roles": "user, admin"}, true},
		{"roles", ",", jwt.MapClaims{"roles": "user admin"}, false},
		{"roles", "", jwt.MapClaims{"roles": "administrator"}, false},
		{"roles", "", jwt.MapClaims{"roles": []any{"user"}}, false},
		{"roles", "", jwt.MapClaims{}, false},
		{"realm_access.roles", "", jwt.MapClaims{"realm_access": map[string]any{"roles": []any{"admin"}}}, true},
		{"realm_access.roles", "", jwt.MapClaims{"realm_access": "admin"}, false},
		{"https://app.example/roles", "", jwt.MapClaims{"https://app.example/roles": []any{"admin"}}, true},
		{"app_metadata.role", "", jwt.MapClaims{"app_metadata": map[string]any{"role": "admin"}}, true},
	}
	for _, tt := range tests {
		a := newAuth(t, config.Auth{JWTSecret: []byte(secret), RolesClaim: tt.path, RolesSeparator: tt.sep})
		u, err := a.Verify(hs256(t, secret, claims("bob", tt.roles)))
		if err != nil || u.Admin != tt.admin {
			t.Errorf("%s %v separated by %q: admin = %v, %v; want %v", tt.path, tt.roles, tt.sep, u.Admin, err, tt.admin)
		}
	}
}

func TestUserClaim(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret), UserClaim: "user_id"})
	u, err := a.Verify(hs256(t, secret, claims("ignored", jwt.MapClaims{"user_id": "u-1"})))
	if err != nil || u.ID != "u-1" {
		t.Fatalf("Verify = %+v, %v", u, err)
	}
	mustRefuse(t, a, hs256(t, secret, claims("x", jwt.MapClaims{"user_id": strings.Repeat("a", 256)})), "user id")
}

// jwks serves a key set the test can rotate, and counts fetches.
type jwks struct {
	mu      sync.Mutex
	keys    []jwkset.JWKMarshal
	fetches int
}

func (j *jwks) set(t *testing.T, keys map[string]crypto.Signer) {
	t.Helper()
	var out []jwkset.JWKMarshal
	for kid, k := range keys {
		alg := map[string]jwkset.ALG{"rsa": jwkset.AlgRS256, "ec": jwkset.AlgES256, "ed": jwkset.AlgEdDSA}[strings.TrimRight(kid, "0123456789")]
		jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, jwk.Marshal())
	}
	j.mu.Lock()
	j.keys = out
	j.mu.Unlock()
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fetches++
	json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: j.keys})
}

func (j *jwks) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

func TestJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	set := &jwks{}
	set.set(t, map[string]crypto.Signer{"rsa1": rsaKey, "ec1": ecKey, "ed1": edKey})
	srv := httptest.NewServer(set)
	defer srv.Close()
	a := newAuth(t, config.Auth{JWKSURL: srv.URL, Leeway: time.Second})

	for _, tok := range []string{
		sign(t, jwt.SigningMethodRS256, "rsa1", rsaKey, claims("carol", nil)),
		sign(t, jwt.SigningMethodES256, "ec1", ecKey, claims("carol", nil)),
		sign(t, jwt.SigningMethodEdDSA, "ed1", edKey, claims("carol", nil)),
	} {
		if u, err := a.Verify(tok); err != nil || u.ID != "carol" {
			t.Errorf("Verify = %+v, %v", u, err)
		}
	}
	mustRefuse(t, a, sign(t, jwt.SigningMethodRS256, "rsa1", rsaKey, claims("carol", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})), "expired")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	mustRefuse(t, a, sign(t, jwt.SigningMethodRS256, "rsa1", other, claims("carol", nil)), "signature")

	// HS/RS confusion: HS256 keyed with the public key the server knows.
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, key := range [][]byte{der, pemKey, rsaKey.PublicKey.N.Bytes()} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("mallory", nil))
		tok.Header["kid"] = "rsa1"
		s, _ := tok.SignedString(key)
		mustRefuse(t, a, s, "signature")
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims("mallory", nil))
	none.Header["kid"] = "rsa1"
	s, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	mustRefuse(t, a, s, "signature")

	// Rotation: the provider publishes a new key and signs with it; the
	// first token naming it makes the server fetch the set again.
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	set.set(t, map[string]crypto.Signer{"rsa2": rotated})
	before := set.count()
	if u, err := a.Verify(sign(t, jwt.SigningMethodRS256, "rsa2", rotated, claims("carol", nil))); err != nil || u.ID != "carol" {
		t.Fatalf("token signed with the rotated key: %+v, %v", u, err)
	}
	if set.count() != before+1 {
		t.Errorf("JWKS fetched %d times for the new kid, want 1", set.count()-before)
	}
	// Unknown kids do not make a fetch each: forged tokens cannot hammer
	// the provider.
	for range 5 {
		mustRefuse(t, a, sign(t, jwt.SigningMethodRS256, "forged", other, claims("m", nil)), "signature")
	}
	if set.count() > before+2 {
		t.Errorf("JWKS fetched %d times for forged kids", set.count()-before-1)
	}
}

func TestMiddleware(t *testing.T) {
	var got User
	var gotErr error
	h := func(a *Authenticator) http.Handler {
		return a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, gotErr = FromContext(r.Context())
		}))
	}
	// call starts each request from nothing, so no check can pass on what
	// an earlier request left behind.
	call := func(h http.Handler, authz string) *httptest.ResponseRecorder {
		got, gotErr = User{}, errors.New("the handler did not run")
		r := httptest.NewRequest("POST", "/query", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	dev := h(newAuth(t, config.Auth{}))
	call(dev, "Bearer whatever")
	if got != LocalUser || gotErr != nil {
		t.Errorf("development mode: %+v, %v", got, gotErr)
	}

	prod := h(newAuth(t, config.Auth{JWTSecret: []byte(secret)}))
	for _, authz := range []string{"", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"} {
		call(prod, authz)
		if !errors.Is(gotErr, ErrUnauthenticated) {
			t.Errorf("%q: %v", authz, gotErr)
		}
	}
	w := call(prod, "Bearer junk")
	if !errors.Is(gotErr, ErrUnauthenticated) || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("bad token: %v, %q", gotErr, w.Header().Get("WWW-Authenticate"))
	}
	call(prod, "bearer "+hs256(t, secret, claims("dave", nil)))
	if got.ID != "dave" || gotErr != nil {
		t.Errorf("good token: %+v, %v", got, gotErr)
	}
	if _, err := FromContext(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("no middleware: %v", err)
	}
}

// TestVerifiedTokens: a token the secret verified is remembered until its
// exp plus the leeway, and no check is skipped for any other token: one
// with a bad signature, another alg or other claims is parsed and refused
// whatever is remembered, an expired one is refused on the clock's second,
// and a refused token is never remembered.
func TestVerifiedTokens(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret), Leeway: 30 * time.Second, MaxTokenAge: 24 * time.Hour, RolesClaim: "roles", AdminRole: "admin"})
	now := time.Now().Truncate(time.Second)
	a.now = func() time.Time { return now }
	exp := now.Add(time.Hour)
	c := jwt.MapClaims{"sub": "alice", "exp": exp.Unix(), "iat": now.Unix(), "roles": []string{"admin"}}
	good := hs256(t, secret, c)
	for i := range 3 {
		if u, err := a.Verify(good); err != nil || u != (User{ID: "alice", Admin: true}) {
			t.Fatalf("Verify #%d = %+v, %v", i, u, err)
		}
	}
	if n := a.verified.len(); n != 1 {
		t.Fatalf("%d tokens remembered, want 1", n)
	}

	head, rest, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	// Another base64url character: flipping a bit could make one outside
	// the alphabet ('z' to '{'), which is refused as malformed instead.
	flipped := []byte(sig)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	other := hs256(t, secret, jwt.MapClaims{"sub": "mallory", "exp": exp.Unix(), "iat": now.Unix(), "roles": []string{"admin"}})
	_, otherRest, _ := strings.Cut(other, ".")
	otherPayload, _, _ := strings.Cut(otherRest, ".")
	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, token, want string }{
		{"another key", hs256(t, strings.Repeat("x", 32), c), "signature"},
		{"a flipped signature", head + "." + payload + "." + string(flipped), "signature"},
		{"no signature", head + "." + payload + ".", "signature"},
		{"another payload under the signature", head + "." + otherPayload + "." + sig, "signature"},
		{"HS384", hs384, "signature"},
		{"alg none", none, "signature"},
		{"expired", hs256(t, secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(-time.Minute).Unix()}), "expired"},
		{"not valid yet", hs256(t, secret, jwt.MapClaims{"sub": "alice", "exp": exp.Unix(), "nbf": now.Add(time.Minute).Unix()}), "not valid yet"},
		{"too long a life", hs256(t, secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(48 * time.Hour).Unix(), "iat": now.Unix()}), "lives longer"},
	} {
		for range 2 { // refused again: a refusal is not remembered
			_, err := a.Verify(tt.token)
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Verify = %v, want UNAUTHENTICATED saying %q", tt.name, err, tt.want)
			}
		}
	}
	if n := a.verified.len(); n != 1 {
		t.Errorf("%d tokens remembered after the refusals, want 1", n)
	}

	// Within the leeway past exp it still passes, as the parser lets it;
	// from exp + leeway on it is refused as the parser refuses it.
	now = exp.Add(29 * time.Second)
	if _, err := a.Verify(good); err != nil {
		t.Errorf("inside the leeway: %v", err)
	}
	now = exp.Add(30 * time.Second)
	mustRefuse(t, a, good, "expired")
	if n := a.verified.len(); n != 0 {
		t.Errorf("%d tokens remembered after the only one expired, want 0", n)
	}
	mustRefuse(t, a, good, "expired")

	// A JWKS's keys can leave the set: its tokens are verified each time.
	set := &jwks{}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set.set(t, map[string]crypto.Signer{"ec1": ecKey})
	srv := httptest.NewServer(set)
	defer srv.Close()
	if j := newAuth(t, config.Auth{JWKSURL: srv.URL}); j.verified != nil {
		t.Error("a JWKS authenticator remembers tokens")
	}
}

// TestTokenCacheBounds: the cache never holds more than its bound, a full
// cache drops expired entries before live ones, and keeps the newest.
func TestTokenCacheBounds(t *testing.T) {
	now := time.Now()
	c := newTokenCache(8)
	for i := range 4 {
		c.put(fmt.Sprint("old", i), User{ID: "o"}, now.Add(time.Second), now)
	}
	later := now.Add(time.Minute)
	for i := range 4 {
		c.put(fmt.Sprint("live", i), User{ID: "l"}, later.Add(time.Hour), now)
	}
	// Full: the next put drops the four expired entries, no live one.
	c.put("new", User{ID: "n"}, later.Add(time.Hour), later)
	if n := c.len(); n != 5 {
		t.Errorf("%d entries after the sweep, want 5", n)
	}
	for i := range 4 {
		if _, ok := c.get(fmt.Sprint("live", i), later); !ok {
			t.Errorf("live%d dropped while expired entries were there", i)
		}
	}
	for i := range 100 {
		tok := fmt.Sprint("t", i)
		c.put(tok, User{ID: tok}, later.Add(time.Hour), later)
		if n := c.len(); n > 8 {
			t.Fatalf("%d entries, bound 8", n)
		}
		if u, ok := c.get(tok, later); !ok || u.ID != tok {
			t.Fatalf("the token just put: %+v, %v", u, ok)
		}
	}
	c.put("expired", User{}, later, later)
	c.put(strings.Repeat("x", maxCachedToken+1), User{}, later.Add(time.Hour), later)
	if _, ok := c.get("expired", later); ok {
		t.Error("a token put at its deadline is remembered")
	}
	if _, ok := c.get(strings.Repeat("x", maxCachedToken+1), later); ok {
		t.Error("a token over maxCachedToken is remembered")
	}
	var nilCache *tokenCache
	nilCache.put("a", User{}, later.Add(time.Hour), later)
	if _, ok := nilCache.get("a", later); ok || nilCache.len() != 0 {
		t.Error("a nil cache holds something")
	}
}

// TestVerifyConcurrent: requests verify side by side (go test -race).
func TestVerifyConcurrent(t *testing.T) {
	a := newAuth(t, config.Auth{JWTSecret: []byte(secret)})
	toks := make([]string, 16)
	for i := range toks {
		toks[i] = hs256(t, secret, claims(fmt.Sprint("u", i), nil))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(toks)
				if u, err := a.Verify(toks[k]); err != nil || u.ID != fmt.Sprint("u", k) {
					t.Errorf("Verify = %+v, %v", u, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
