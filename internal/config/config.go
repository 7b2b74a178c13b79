// Package config holds every setting of the server, its default and its
// check, in one place. Load reads them through a getenv function so that
// tests build configurations without touching the process environment, and
// main can layer command-line flags over the environment.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the validated configuration.
type Config struct {
	Addr               string
	DataDir            string
	DatabaseURL        string // empty: SQLite in DataDir
	S3                 S3     // used when S3.Bucket is set; else disk storage
	PublicURL          string // base of disk-storage URLs, no trailing slash
	StorageSigningKey  []byte // disk storage; nil: kept in DataDir
	UploadURLTTL       time.Duration
	DownloadURLTTL     time.Duration
	MaxUploadSize      int64
	CORSAllowedOrigins []string
	LogLevel           string
	LogFormat          string

	Auth    Auth
	Limits  Limits
	GraphQL GraphQL
	// RequestTimeout bounds one API request; an interrupted delete is
	// finished by the sweeper once this much time has passed.
	RequestTimeout time.Duration
	// UploadSaveWindow is how long after its URL expires an upload may still
	// be saved; after that the sweeper removes it and its object.
	UploadSaveWindow time.Duration
	SweepInterval    time.Duration // 0: no sweeper in this process
	MigrateOnStart   bool
}

// Auth says how callers are identified. With neither JWKSURL nor JWTSecret
// set the server runs in development mode as one local user.
type Auth struct {
	JWKSURL    string
	JWTSecret  []byte
	Issuer     string
	Audience   string
	UserClaim  string
	RolesClaim string // a dotted path into the claims
	AdminRole  string
	Leeway     time.Duration
	// Disabled allows development mode on a non-loopback address.
	Disabled bool
}

// Development reports whether no token verification is configured.
func (a Auth) Development() bool { return a.JWKSURL == "" && len(a.JWTSecret) == 0 }

// Limits bound what each user may upload.
type Limits struct {
	AllowedContentTypes []string // media types or type/* patterns; empty allows all
	UserQuotaBytes      int64    // 0: no quota
	MaxPendingUploads   int      // per user
}

// GraphQL hardens the endpoint.
type GraphQL struct {
	Introspection bool
	MaxDepth      int
	MaxComplexity int
}

// S3 selects the bucket.
type S3 struct {
	Bucket         string
	Endpoint       string
	Region         string
	ForcePathStyle bool
	SetBucketCORS  bool
}

// Setting documents one environment variable; main makes a flag of each.
type Setting struct {
	Env     string
	Default string
	Usage   string
}

// Flag is the command-line flag matching the variable: S3_BUCKET is -s3-bucket.
func (s Setting) Flag() string { return strings.ToLower(strings.ReplaceAll(s.Env, "_", "-")) }

// S3MaxPutSize is the largest object one S3 PUT may carry.
const S3MaxPutSize = 5 << 30

// Settings lists every variable Load reads, in README order.
var Settings = []Setting{
	{"ADDR", "127.0.0.1:8080", "address to listen on"},
	{"DATA_DIR", "./data", "folder for the SQLite database, disk storage and its signing key"},
	{"DATABASE_URL", "", "postgres://user:pass@host/db?sslmode=... for PostgreSQL; empty for SQLite in DATA_DIR"},
	{"S3_BUCKET", "", "store objects in this S3 bucket; empty for disk storage in DATA_DIR"},
	{"S3_ENDPOINT", "", "endpoint of an S3-compatible store (MinIO, R2, ...); empty for AWS"},
	{"S3_REGION", "us-east-1", "bucket region"},
	{"S3_FORCE_PATH_STYLE", "false", "address the bucket as endpoint/bucket (most S3-compatible stores need this)"},
	{"S3_SET_BUCKET_CORS", "false", "at startup, put a CORS rule for CORS_ALLOWED_ORIGINS on the bucket"},
	{"PUBLIC_URL", "", "base URL clients reach this server at, for disk-storage URLs; default http://ADDR"},
	{"STORAGE_SIGNING_KEY", "", "hex key (32+ bytes) signing disk-storage URLs; default: made once and kept in DATA_DIR"},
	{"UPLOAD_URL_TTL", "15m", "how long an upload URL stays valid"},
	{"DOWNLOAD_URL_TTL", "15m", "how long a download URL stays valid"},
	{"MAX_UPLOAD_SIZE", "5GiB", "largest accepted file (bytes, or with KiB/MiB/GiB/KB/MB/GB); at most 5GiB on S3"},
	{"CORS_ALLOWED_ORIGINS", "", "comma-separated origins allowed to call the API and storage from a browser, or *"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "text", "text or json"},
	{"AUTH_JWKS_URL", "", "JWKS URL of your auth provider; tokens signed RS256, ES256 or EdDSA are verified with its keys"},
	{"AUTH_JWT_SECRET", "", "shared secret for HS256 tokens (32+ bytes), instead of AUTH_JWKS_URL"},
	{"AUTH_ISSUER", "", "required iss claim, when set"},
	{"AUTH_AUDIENCE", "", "required aud claim, when set"},
	{"AUTH_USER_CLAIM", "sub", "claim holding the user id"},
	{"AUTH_ROLES_CLAIM", "roles", "dotted path to the claim holding the user's roles (a string or a list)"},
	{"AUTH_ADMIN_ROLE", "admin", "role that may act on every user's files"},
	{"AUTH_LEEWAY", "30s", "clock skew allowed when checking exp and nbf"},
	{"AUTH_DISABLED", "false", "with no AUTH_JWKS_URL or AUTH_JWT_SECRET, allow development mode (one local user) on a non-loopback ADDR"},
	{"ALLOWED_CONTENT_TYPES", "", "comma-separated media types or type/* patterns that may be uploaded, e.g. image/*,application/pdf; empty allows all"},
	{"USER_QUOTA_BYTES", "0", "bytes each user may hold, saved and pending together (size syntax as MAX_UPLOAD_SIZE); 0 for no quota"},
	{"MAX_PENDING_UPLOADS", "1000", "uploads a user may have issued and not yet saved"},
	{"GRAPHQL_INTROSPECTION", "", "true or false; default true in development mode, false otherwise"},
	{"GRAPHQL_MAX_DEPTH", "12", "deepest selection a query may make (introspection fields not counted)"},
	{"GRAPHQL_MAX_COMPLEXITY", "5000", "largest query complexity: one per field, lists count once per item asked for"},
	{"REQUEST_TIMEOUT", "30s", "longest one API request may take"},
	{"UPLOAD_SAVE_WINDOW", "1h", "how long after its URL expires an upload may still be saved; then the sweeper removes it"},
	{"SWEEP_INTERVAL", "1m", "how often to remove expired uploads and finish interrupted deletes; 0 turns the sweeper off in this process"},
	{"MIGRATE_ON_START", "true", "apply database migrations at startup; false to run `filegraph migrate` as a deploy step"},
}

// Load reads and checks the configuration. Its error names every bad
// setting and what to do about it.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, s := range Settings {
			if s.Env == name {
				return s.Default
			}
		}
		panic("config: unknown setting " + name)
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	c := Config{
		Addr:        get("ADDR"),
		DataDir:     get("DATA_DIR"),
		DatabaseURL: get("DATABASE_URL"),
		S3: S3{
			Bucket:   get("S3_BUCKET"),
			Endpoint: get("S3_ENDPOINT"),
			Region:   get("S3_REGION"),
		},
		LogLevel:  strings.ToLower(get("LOG_LEVEL")),
		LogFormat: strings.ToLower(get("LOG_FORMAT")),
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "%q is not host:port (for example 127.0.0.1:8080 or :8080)", c.Addr)
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", "must be a postgres:// URL, or empty for SQLite")
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"S3_FORCE_PATH_STYLE", &c.S3.ForcePathStyle}, {"S3_SET_BUCKET_CORS", &c.S3.SetBucketCORS}} {
		v, err := strconv.ParseBool(get(b.name))
		if err != nil {
			bad(b.name, "%q is not true or false", get(b.name))
		}
		*b.dst = v
	}
	if c.S3.Endpoint != "" {
		if u, err := url.Parse(c.S3.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			bad("S3_ENDPOINT", "%q is not a URL such as http://127.0.0.1:9000", c.S3.Endpoint)
		}
	}

	c.PublicURL = strings.TrimRight(get("PUBLIC_URL"), "/")
	if c.PublicURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PUBLIC_URL", "%q is not an http(s) URL", c.PublicURL)
	}
	if k := get("STORAGE_SIGNING_KEY"); k != "" {
		key, err := hex.DecodeString(k)
		if err != nil || len(key) < 32 {
			bad("STORAGE_SIGNING_KEY", "must be at least 64 hex digits (32 bytes); make one with `openssl rand -hex 32`")
		}
		c.StorageSigningKey = key
	}

	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"UPLOAD_URL_TTL", &c.UploadURLTTL}, {"DOWNLOAD_URL_TTL", &c.DownloadURLTTL}} {
		v, err := time.ParseDuration(get(d.name))
		// SigV4 presigned URLs live at most 7 days and at least 1 second.
		if err != nil || v < time.Second || v > 7*24*time.Hour {
			bad(d.name, "%q must be a duration from 1s to 168h, such as 15m", get(d.name))
		}
		*d.dst = v
	}

	size, err := ParseSize(get("MAX_UPLOAD_SIZE"))
	switch {
	case err != nil:
		bad("MAX_UPLOAD_SIZE", "%v", err)
	case size < 1:
		bad("MAX_UPLOAD_SIZE", "must be at least 1 byte")
	case c.S3.Bucket != "" && size > S3MaxPutSize:
		bad("MAX_UPLOAD_SIZE", "%d bytes is over 5GiB, the most one S3 PUT can carry", size)
	}
	c.MaxUploadSize = size

	for _, o := range strings.Split(get("CORS_ALLOWED_ORIGINS"), ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
				bad("CORS_ALLOWED_ORIGINS", "%q is not an origin such as https://app.example.com", o)
			}
			o = strings.TrimSuffix(o, "/")
		}
		c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
	}
	if c.S3.SetBucketCORS && len(c.CORSAllowedOrigins) == 0 {
		bad("S3_SET_BUCKET_CORS", "needs CORS_ALLOWED_ORIGINS")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	c.loadAuth(get, bad)
	c.loadLimits(get, bad)

	for _, d := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
	}{
		{"REQUEST_TIMEOUT", &c.RequestTimeout, time.Second},
		{"UPLOAD_SAVE_WINDOW", &c.UploadSaveWindow, 0},
		{"SWEEP_INTERVAL", &c.SweepInterval, 0},
		{"AUTH_LEEWAY", &c.Auth.Leeway, 0},
	} {
		v, err := time.ParseDuration(get(d.name))
		if err != nil || v < d.min || v > 7*24*time.Hour {
			bad(d.name, "%q must be a duration from %v to 168h, such as 30s", get(d.name), d.min)
		}
		*d.dst = v
	}
	if v, err := strconv.ParseBool(get("MIGRATE_ON_START")); err != nil {
		bad("MIGRATE_ON_START", "%q is not true or false", get("MIGRATE_ON_START"))
	} else {
		c.MigrateOnStart = v
	}

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

func (c *Config) loadAuth(get func(string) string, bad func(string, string, ...any)) {
	a := &c.Auth
	a.JWKSURL = get("AUTH_JWKS_URL")
	if s := get("AUTH_JWT_SECRET"); s != "" {
		a.JWTSecret = []byte(s)
		if len(a.JWTSecret) < 32 {
			bad("AUTH_JWT_SECRET", "must be at least 32 bytes; make one with `openssl rand -hex 32`")
		}
	}
	if a.JWKSURL != "" {
		if u, err := url.Parse(a.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("AUTH_JWKS_URL", "%q is not an http(s) URL", a.JWKSURL)
		}
		if len(a.JWTSecret) > 0 {
			bad("AUTH_JWT_SECRET", "cannot be set together with AUTH_JWKS_URL: choose one")
		}
	}
	a.Issuer, a.Audience = get("AUTH_ISSUER"), get("AUTH_AUDIENCE")
	a.UserClaim, a.RolesClaim, a.AdminRole = get("AUTH_USER_CLAIM"), get("AUTH_ROLES_CLAIM"), get("AUTH_ADMIN_ROLE")
	v, err := strconv.ParseBool(get("AUTH_DISABLED"))
	if err != nil {
		bad("AUTH_DISABLED", "%q is not true or false", get("AUTH_DISABLED"))
	}
	a.Disabled = v
	if a.Development() && !a.Disabled && !loopback(c.Addr) {
		bad("ADDR", "%q is not a loopback address and no auth is configured: set AUTH_JWKS_URL or AUTH_JWT_SECRET, or AUTH_DISABLED=true to serve everyone as one local user", c.Addr)
	}

	introspection := get("GRAPHQL_INTROSPECTION")
	if introspection == "" {
		c.GraphQL.Introspection = a.Development()
	} else if c.GraphQL.Introspection, err = strconv.ParseBool(introspection); err != nil {
		bad("GRAPHQL_INTROSPECTION", "%q is not true or false", introspection)
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"GRAPHQL_MAX_DEPTH", &c.GraphQL.MaxDepth}, {"GRAPHQL_MAX_COMPLEXITY", &c.GraphQL.MaxComplexity}} {
		v, err := strconv.Atoi(get(n.name))
		if err != nil || v < 1 {
			bad(n.name, "%q is not a positive whole number", get(n.name))
		}
		*n.dst = v
	}
}

// loopback reports whether addr listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) loadLimits(get func(string) string, bad func(string, string, ...any)) {
	l := &c.Limits
	for _, t := range strings.Split(get("ALLOWED_CONTENT_TYPES"), ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		typ, sub, ok := strings.Cut(t, "/")
		if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(t, " ;") {
			bad("ALLOWED_CONTENT_TYPES", "%q is not a media type such as image/png or a pattern such as image/*", t)
		}
		l.AllowedContentTypes = append(l.AllowedContentTypes, t)
	}
	q, err := ParseSize(get("USER_QUOTA_BYTES"))
	if err != nil {
		bad("USER_QUOTA_BYTES", "%v", err)
	}
	l.UserQuotaBytes = q
	n, err := strconv.Atoi(get("MAX_PENDING_UPLOADS"))
	if err != nil || n < 1 {
		bad("MAX_PENDING_UPLOADS", "%q is not a positive whole number", get("MAX_PENDING_UPLOADS"))
	}
	l.MaxPendingUploads = n
}

// ParseSize reads a byte count such as 1048576, 512KiB, 5GiB or 10MB.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 5GiB or 1048576", s)
	}
	return n * mult, nil
}
