// Package auth tells who is calling. Filegraph does not sign people in: the
// SPA's auth provider (Auth0, Clerk, Keycloak, Supabase, Firebase, Cognito,
// ...) issues a JWT, the client sends it as `Authorization: Bearer`, and
// this package verifies it, either with the provider's published keys
// (JWKS: RS/PS/ES/EdDSA, cached and refreshed when a token names a key the
// cache does not hold) or with a shared HS256 secret. The crypto is
// golang-jwt's and keyfunc's; this package only chooses what to accept.
//
// The verified caller travels in the request context as a User. Nothing is
// refused here: the middleware records what it found, and each operation
// asks for the User and gets ErrUnauthenticated (with the reason) when
// there is none, so that GraphQL answers with a per-field error code rather
// than an HTTP status a GraphQL client cannot read.
//
// With no JWKS URL and no secret the server is in development mode and
// every request is the one local user.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/filegraph/filegraph/internal/config"
)

// User is a verified caller.
type User struct {
	ID    string
	Admin bool // may act on every user's files
}

// LocalUser is the caller in development mode.
var LocalUser = User{ID: "local"}

// ErrUnauthenticated means the request carries no valid token. Errors
// wrapping it say why, in words safe to show the caller.
var ErrUnauthenticated = errors.New("unauthenticated")

// maxUserID bounds the user id kept with each file.
const maxUserID = 255

// Asymmetric algorithms a JWKS key may sign with. HS* is never accepted from
// a JWKS: a public key used as an HMAC secret is the classic confusion.
var jwksMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Authenticator verifies bearer tokens.
type Authenticator struct {
	cfg     config.Auth
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc
	now     func() time.Time // the parser's clock too; tests move it
	// verified holds tokens the shared secret verified, until they
	// expire; nil with a JWKS, whose keys can leave the set.
	verified *tokenCache
}

// New returns an Authenticator for cfg. With a JWKS URL it starts fetching
// the keys in the background (a provider that is down at start does not
// stop the server; tokens fail until the keys arrive) and keeps them fresh
// until ctx ends.
func New(ctx context.Context, cfg config.Auth, log *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{cfg: cfg, now: time.Now}
	if cfg.Development() {
		return a, nil
	}
	opts := []jwt.ParserOption{
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return a.now() }),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.JWKSURL != "" {
		k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout:     10 * time.Second,
			RefreshInterval: time.Hour,
			// A token naming an unknown key refetches the set (keys
			// rotate), at most once a minute: forged kids cannot hammer
			// the provider. The wait bound is also the refetch's own
			// deadline; a request never waits for the limiter longer
			// than that, and is refused at once when the next refetch
			// is further off.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
			RateLimitWaitMax:  5 * time.Second,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					log.WarnContext(ctx, "auth.jwks_refresh_failed", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS %s: %w", cfg.JWKSURL, err)
		}
		a.keyfunc = k.Keyfunc
		opts = append(opts, jwt.WithValidMethods(jwksMethods))
	} else {
		secret := cfg.JWTSecret
		a.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
		a.verified = newTokenCache(maxCachedTokens)
	}
	a.parser = jwt.NewParser(opts...)
	// golang-jwt ignores crit. RFC 7515 says a token whose crit names an
	// extension the recipient does not understand must be refused, and
	// this server understands none; checked before any key is looked up.
	keyfunc := a.keyfunc
	a.keyfunc = func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		return keyfunc(t)
	}
	return a, nil
}

var errCritical = errors.New("crit header")

// Verify checks a token and returns its user.
//
// With the shared secret, a token that passed every check is remembered,
// by its whole text (header, claims and signature), until its exp plus
// the leeway, the instant the parser would start refusing it: a client
// sends the same token with each request, and parsing and checking it
// again was a fifth of a download's CPU. Nothing a remembered token
// passed can change before then: its signature and alg are part of the
// text, the secret is fixed for the process's life, nbf and iat were
// already past and stay so, and its lifetime from now (AUTH_MAX_TOKEN_AGE)
// only shrinks. A token that fails is never remembered, so it fails the
// whole way each time with its reason.
func (a *Authenticator) Verify(token string) (User, error) {
	now := a.now()
	if u, ok := a.verified.get(token, now); ok {
		return u, nil
	}
	u, exp, err := a.verify(token)
	if err == nil {
		a.verified.put(token, u, exp.Add(a.cfg.Leeway), now)
	}
	return u, err
}

// verify checks a token from scratch, and returns its user and exp.
func (a *Authenticator) verify(token string) (User, time.Time, error) {
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(token, claims, a.keyfunc); err != nil {
		return User{}, time.Time{}, fmt.Errorf("%w: %s", ErrUnauthenticated, a.reason(err, claims))
	}
	exp, err := claims.GetExpirationTime() // required and checked already
	if err != nil || exp == nil {
		return User{}, time.Time{}, fmt.Errorf("%w: the token has no expiry", ErrUnauthenticated)
	}
	if !a.lifetimeOK(claims, exp.Time) {
		return User{}, time.Time{}, fmt.Errorf("%w: the token lives longer than the %v this server accepts (AUTH_MAX_TOKEN_AGE)", ErrUnauthenticated, a.cfg.MaxTokenAge)
	}
	id, _ := claims[a.cfg.UserClaim].(string)
	// A NUL or invalid UTF-8 cannot be stored as an owner (PostgreSQL).
	if id == "" || len(id) > maxUserID || !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		return User{}, time.Time{}, fmt.Errorf("%w: the token's %q claim is not a user id", ErrUnauthenticated, a.cfg.UserClaim)
	}
	return User{ID: id, Admin: hasRole(claims, a.cfg.RolesClaim, a.cfg.RolesSeparator, a.cfg.AdminRole)}, exp.Time, nil
}

// Bounds of the verified tokens kept: at most this many, each at most
// maxCachedToken bytes long (about 16 MiB in all at worst; a typical
// HS256 token is 200-400 bytes). A longer token is verified each time.
const (
	maxCachedTokens = 4096
	maxCachedToken  = 4096
)

// tokenCache maps a verified token's text to its user until its deadline.
// A nil *tokenCache holds nothing.
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]cachedToken
}

type cachedToken struct {
	user  User
	until time.Time // exp + leeway: from then on the parser refuses it
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[string]cachedToken)}
}

// get returns the user of token if it was verified and is still before
// its deadline at now. An entry past it is dropped.
func (c *tokenCache) get(token string, now time.Time) (User, bool) {
	if c == nil {
		return User{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok {
		return User{}, false
	}
	if !now.Before(e.until) {
		c.mu.Lock()
		if cur, ok := c.entries[token]; ok && !now.Before(cur.until) {
			delete(c.entries, token)
		}
		c.mu.Unlock()
		return User{}, false
	}
	return e.user, true
}

// put remembers a verified token until until. When the cache is full it
// first drops what has expired, then, if it is still more than three
// quarters full, arbitrary entries down to that: a sweep at most once
// every max/4 puts.
func (c *tokenCache) put(token string, u User, until, now time.Time) {
	if c == nil || len(token) > maxCachedToken || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) <= c.max*3/4 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[token] = cachedToken{user: u, until: until}
}

// len is how many tokens the cache holds.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// lifetimeOK bounds how long a token lives, so that a leaked one (or one a
// misconfigured provider issued for years) does not work for ever. The
// lifetime runs from iat to exp; from now when the token has no iat, or an
// iat in the future (which would otherwise shorten it at will).
func (a *Authenticator) lifetimeOK(claims jwt.MapClaims, exp time.Time) bool {
	if a.cfg.MaxTokenAge <= 0 {
		return true
	}
	from := a.now()
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil && iat.Before(from) {
		from = iat.Time
	}
	// exp is the issuer's clock and now is ours: the leeway covers skew.
	return exp.Sub(from) <= a.cfg.MaxTokenAge+a.cfg.Leeway
}

// reason turns a verification failure into words for the caller: which
// check failed, never key material or parser internals.
func (a *Authenticator) reason(err error, claims jwt.MapClaims) string {
	switch {
	case errors.Is(err, errCritical):
		return "the token's crit header names extensions this server does not support"
	case errors.Is(err, jwt.ErrInvalidType), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return a.claimProblem(claims)
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is for another audience"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	default:
		return "the token's signature is not valid"
	}
}

// claimProblem says which registered claim is missing or has the wrong
// JSON type: golang-jwt only says that one is (an aud of the wrong type is
// "missing" to it), and a caller should read "exp is a string".
func (a *Authenticator) claimProblem(claims jwt.MapClaims) string {
	if _, ok := claims["exp"]; !ok {
		return "the token has no expiry"
	}
	for _, k := range []string{"exp", "nbf"} {
		if v, ok := claims[k]; ok {
			if _, num := v.(float64); !num {
				return fmt.Sprintf("the token's %q claim is %s, not a number of seconds since 1970", k, jsonType(v))
			}
		}
	}
	iss, isString := claims["iss"].(string)
	if v, ok := claims["iss"]; ok && !isString {
		return fmt.Sprintf("the token's \"iss\" claim is %s, not a string", jsonType(v))
	}
	if v, ok := claims["aud"]; ok && !audienceType(v) {
		return fmt.Sprintf("the token's \"aud\" claim is %s, not a string or a list of strings", jsonType(v))
	}
	if iss == "" && a.cfg.Issuer != "" {
		return "the token has no issuer (iss)"
	}
	if aud, _ := claims.GetAudience(); (len(aud) == 0 || aud[0] == "") && a.cfg.Audience != "" {
		return "the token has no audience (aud)"
	}
	return "the token has a claim of the wrong type"
}

// audienceType reports whether v is a string or a list of strings.
func audienceType(v any) bool {
	switch v := v.(type) {
	case string:
		return true
	case []any:
		return !slices.ContainsFunc(v, func(a any) bool { _, s := a.(string); return !s })
	}
	return false
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "a list"
	}
	return "an object"
}

// hasRole looks role up at path, a dotted path into the claims ("roles",
// "realm_access.roles"); a claim named with dots (Auth0's
// "https://example.com/roles") is matched whole first. The value may be a
// list, or a string: one role unless sep says how to split it (" ": on
// white space). Never split unasked: "super admin" is not admin.
func hasRole(claims map[string]any, path, sep, role string) bool {
	if path == "" || role == "" {
		return false
	}
	v, ok := claims[path]
	if !ok {
		var cur any = claims
		for part := range strings.SplitSeq(path, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				return false
			}
			cur = m[part]
		}
		v = cur
	}
	switch v := v.(type) {
	case string:
		switch sep {
		case "":
			return v == role
		case " ":
			return slices.Contains(strings.Fields(v), role)
		}
		for r := range strings.SplitSeq(v, sep) {
			if strings.TrimSpace(r) == role {
				return true
			}
		}
	case []any:
		for _, r := range v {
			if s, _ := r.(string); s == role {
				return true
			}
		}
	}
	return false
}

type ctxKey struct{}

type result struct {
	user User
	err  error
}

// WithUser returns ctx carrying u, as the middleware does for a verified
// token.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, result{user: u})
}

// FromContext returns the caller, or an error wrapping ErrUnauthenticated.
func FromContext(ctx context.Context) (User, error) {
	r, ok := ctx.Value(ctxKey{}).(result)
	if !ok {
		return User{}, fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
	}
	return r.user, r.err
}

// Middleware records the caller of each request in its context.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res result
		switch token, ok := bearer(r); {
		case a.cfg.Development():
			res.user = LocalUser
		case !ok:
			res.err = fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
		default:
			res.user, res.err = a.Verify(token)
			if res.err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res)))
	})
}

// WithHeader returns ctx with the caller an Authorization value names, as
// Middleware finds it in a request's header: a WebSocket's browser cannot
// set headers, and sends the value in its connection_init message.
func (a *Authenticator) WithHeader(ctx context.Context, authorization string) (context.Context, error) {
	var res result
	switch token, ok := bearerValue(authorization); {
	case a.cfg.Development():
		res.user = LocalUser
	case !ok:
		res.err = fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
	default:
		res.user, res.err = a.Verify(token)
	}
	return context.WithValue(ctx, ctxKey{}, res), res.err
}

func bearer(r *http.Request) (string, bool) { return bearerValue(r.Header.Get("Authorization")) }

func bearerValue(v string) (string, bool) {
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
