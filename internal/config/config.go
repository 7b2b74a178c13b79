// Package config holds every setting of the server, its default and its
// check, in one place. Load reads them through a getenv function so that
// tests build configurations without touching the process environment, and
// main can layer command-line flags over the environment.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/filegraph/filegraph/internal/clamd"
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

	// PartSize is where the part size of uploads in parts starts.
	PartSize int64
	// MultipartUploadWindow is how long after its creation an upload in
	// parts may be saved.
	MultipartUploadWindow time.Duration

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
	// MetricsAddr is where Prometheus scrapes /metrics; "" for nowhere.
	// Equal to Addr, the API listener serves it too.
	MetricsAddr string
	// OTLPEndpoint is the OpenTelemetry collector traces go to; "" for no
	// tracing.
	OTLPEndpoint string
	// DBMaxConns bounds the database pool; readiness keeps one more.
	DBMaxConns int
	// DBPrepare has PostgreSQL connections prepare the statements they
	// send again (database.Prepare).
	DBPrepare bool
	// DrainDelay is how long after SIGTERM the server keeps serving while
	// /readyz says it is draining; ShutdownGrace then bounds how long
	// requests in flight may take before their connections are closed.
	DrainDelay    time.Duration
	ShutdownGrace time.Duration
	// DiskMinFree is the free space below which disk storage reports itself
	// unavailable.
	DiskMinFree int64
	// DiskPuts bounds the PUTs disk storage has in flight.
	DiskPuts DiskPuts
	// Scan is the virus scan gate; Processing the background jobs.
	Scan       Scan
	Processing Processing
	// CollectionsFile is the path Collections were read from; "" for none.
	CollectionsFile string
	// Collections are the upload profiles beside DefaultCollection, in the
	// file's order.
	Collections []Collection
	// Events bounds subscriptions.
	Events Events
	// Webhooks are where events are POSTed; none when URLs is empty.
	Webhooks Webhooks
}

// Events bounds Subscription.fileEvents in this process.
type Events struct {
	MaxSubscriptions        int
	MaxSubscriptionsPerUser int
}

// Webhooks says where events are sent (internal/webhooks) and for how long
// their delivery is tried.
type Webhooks struct {
	URLs   []string
	Secret []byte // the key of the whsec_ secret, decoded
	// Events are the event types sent; empty for all.
	Events       []string
	Timeout      time.Duration
	RetryFor     time.Duration
	Keep         time.Duration
	AllowPrivate bool
}

// EventTypes are the event types a webhook can be sent.
var EventTypes = []string{"file.saved", "file.updated", "file.deleted", "file.scanned", "file.variants_ready"}

// DiskPuts bounds the PUTs (whole objects and parts) disk storage streams
// at once, each holding a connection, a file and up to 4 MiB of buffers.
type DiskPuts struct {
	Max         int
	MaxPerUser  int
	IdleTimeout time.Duration
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
	// RolesSeparator splits a roles claim given as one string: "" matches
	// the whole string, " " splits on any run of white space.
	RolesSeparator string
	AdminRole      string
	Leeway         time.Duration
	// MaxTokenAge bounds a token's lifetime, from the earlier of its iat
	// and now to its exp; 0 for no bound.
	MaxTokenAge time.Duration
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
	// TrustedDocuments is the path of a persisted-documents manifest; when
	// set only its operations run.
	TrustedDocuments string
}

// S3 selects the bucket.
type S3 struct {
	Bucket         string
	Endpoint       string
	Region         string
	ForcePathStyle bool
	SetBucketCORS  bool
	// PublicBaseURL, followed by a key, is the unsigned URL of a public
	// file; it ends in a slash. Default: the bucket's own URL.
	PublicBaseURL string
}

// Setting is one environment variable: its name, default, help text (main
// makes a flag of each) and how it is read into the Config.
type Setting struct {
	Env     string
	Default string
	Usage   string
	set     func(c *Config, v string, bad func(format string, args ...any))
}

// Flag is the command-line flag matching the variable: S3_BUCKET is -s3-bucket.
func (s Setting) Flag() string { return strings.ToLower(strings.ReplaceAll(s.Env, "_", "-")) }

// MaxObjectSize is the largest object S3 (and so Filegraph) keeps.
const MaxObjectSize = 5 << 40

// Scan configures the virus scan gate.
type Scan struct {
	ClamdAddr      string // tcp://host:port or unix:/path; "" for no scanning
	MaxSize        int64  // larger files are UNSCANNED
	AllowUnscanned bool   // UNSCANNED files may be downloaded
}

// Processing configures the background jobs (scans) of this process.
type Processing struct {
	Concurrency int
	JobTimeout  time.Duration
	// ImageMaxPixels bounds the images variants are made of, read from
	// their headers before decoding.
	ImageMaxPixels int
}

// maxDuration bounds every duration setting; it is also the longest life of
// a SigV4 presigned URL.
const maxDuration = 7 * 24 * time.Hour

// Settings lists every variable Load reads, in README order. Each row names
// its parser and the Config field it fills. To add a setting, add a field to
// Config, a row here and a row to the README's configuration table (a test
// checks the README), for example:
//
//	{"MAX_WIDGETS", "10", "most widgets per user", field(positive, func(c *Config) *int { return &c.Limits.MaxWidgets })},
//
// A check that involves more than one setting goes in crossCheck.
var Settings = []Setting{
	{"ADDR", "127.0.0.1:8080", "address to listen on; port 0 takes a free port, logged by server.listening", field(hostPort, func(c *Config) *string { return &c.Addr })},
	{"DATA_DIR", "./data", "folder for the SQLite database, disk storage and its signing key", field(text, func(c *Config) *string { return &c.DataDir })},
	{"DATABASE_URL", "", "postgres://user:pass@host/db?sslmode=... for PostgreSQL; empty for SQLite in DATA_DIR", field(postgresURL, func(c *Config) *string { return &c.DatabaseURL })},
	{"S3_BUCKET", "", "store objects in this S3 bucket; empty for disk storage in DATA_DIR", field(text, func(c *Config) *string { return &c.S3.Bucket })},
	{"S3_ENDPOINT", "", "endpoint of an S3-compatible store (MinIO, R2, ...); empty for AWS", field(endpointURL, func(c *Config) *string { return &c.S3.Endpoint })},
	{"S3_REGION", "us-east-1", "bucket region", field(text, func(c *Config) *string { return &c.S3.Region })},
	{"S3_FORCE_PATH_STYLE", "false", "address the bucket as endpoint/bucket (most S3-compatible stores need this)", field(boolean, func(c *Config) *bool { return &c.S3.ForcePathStyle })},
	{"S3_SET_BUCKET_CORS", "false", "at startup, put a CORS rule for CORS_ALLOWED_ORIGINS on the bucket", field(boolean, func(c *Config) *bool { return &c.S3.SetBucketCORS })},
	{"S3_PUBLIC_BASE_URL", "", "URL that, followed by an object key, serves public collections' files unsigned (a CDN, or the bucket's own URL, the default); see the README's bucket policy", field(publicBaseURL, func(c *Config) *string { return &c.S3.PublicBaseURL })},
	{"PUBLIC_URL", "", "base URL clients reach this server at, for disk-storage URLs; default http://ADDR", field(publicURL, func(c *Config) *string { return &c.PublicURL })},
	{"STORAGE_SIGNING_KEY", "", "hex key (32+ bytes) signing disk-storage URLs; default: made once and kept in DATA_DIR", field(hexKey, func(c *Config) *[]byte { return &c.StorageSigningKey })},
	{"UPLOAD_URL_TTL", "15m", "how long an upload URL stays valid", field(duration(time.Second, "15m"), func(c *Config) *time.Duration { return &c.UploadURLTTL })},
	{"DOWNLOAD_URL_TTL", "15m", "how long a download URL stays valid", field(duration(time.Second, "15m"), func(c *Config) *time.Duration { return &c.DownloadURLTTL })},
	{"MAX_UPLOAD_SIZE", "5GiB", "largest accepted file (bytes, or with KiB/MiB/GiB/TiB/KB/MB/GB/TB), up to 5TiB; on S3 files over 5GiB must use createMultipartUploads", field(positiveSize, func(c *Config) *int64 { return &c.MaxUploadSize })},
	{"PART_SIZE", "16MiB", "part size of uploads in parts, 5MiB to 5GiB; grown for files that would need more than 10,000 parts", field(partSize, func(c *Config) *int64 { return &c.PartSize })},
	{"MULTIPART_UPLOAD_WINDOW", "24h", "how long after its creation an upload in parts may be saved; then the sweeper aborts it (part URLs live UPLOAD_URL_TTL)", field(duration(time.Minute, "24h"), func(c *Config) *time.Duration { return &c.MultipartUploadWindow })},
	{"CORS_ALLOWED_ORIGINS", "", "comma-separated origins allowed to call the API and storage from a browser, or *", list(origin, func(c *Config) *[]string { return &c.CORSAllowedOrigins })},
	{"LOG_LEVEL", "info", "debug, info, warn or error", field(oneOf("debug", "info", "warn", "error"), func(c *Config) *string { return &c.LogLevel })},
	{"LOG_FORMAT", "text", "text or json", field(oneOf("text", "json"), func(c *Config) *string { return &c.LogFormat })},
	{"AUTH_JWKS_URL", "", "JWKS URL of your auth provider; tokens signed RS256, ES256 or EdDSA are verified with its keys", field(httpURL, func(c *Config) *string { return &c.Auth.JWKSURL })},
	{"AUTH_JWT_SECRET", "", "shared secret for HS256 tokens (32+ bytes), instead of AUTH_JWKS_URL", field(secret, func(c *Config) *[]byte { return &c.Auth.JWTSecret })},
	{"AUTH_ISSUER", "", "required iss claim, when set", field(text, func(c *Config) *string { return &c.Auth.Issuer })},
	{"AUTH_AUDIENCE", "", "required aud claim, when set", field(text, func(c *Config) *string { return &c.Auth.Audience })},
	{"AUTH_USER_CLAIM", "sub", "claim holding the user id", field(text, func(c *Config) *string { return &c.Auth.UserClaim })},
	{"AUTH_ROLES_CLAIM", "roles", "dotted path to the claim holding the user's roles (a string or a list)", field(text, func(c *Config) *string { return &c.Auth.RolesClaim })},
	{"AUTH_ROLES_SEPARATOR", "", "how to split a roles claim given as one string: empty matches the whole string as one role, space splits on white space (OAuth scope style), any other text splits on it (e.g. ,)", field(rolesSeparator, func(c *Config) *string { return &c.Auth.RolesSeparator })},
	{"AUTH_ADMIN_ROLE", "admin", "role that may act on every user's files", field(text, func(c *Config) *string { return &c.Auth.AdminRole })},
	{"AUTH_LEEWAY", "30s", "clock skew allowed when checking exp and nbf", field(duration(0, "30s"), func(c *Config) *time.Duration { return &c.Auth.Leeway })},
	{"AUTH_MAX_TOKEN_AGE", "24h", "longest lifetime a token may have, from its iat (or now, when it has none or one in the future) to its exp; 0 for no bound", field(duration(0, "24h"), func(c *Config) *time.Duration { return &c.Auth.MaxTokenAge })},
	{"AUTH_DISABLED", "false", "with no AUTH_JWKS_URL or AUTH_JWT_SECRET, allow development mode (one local user) on a non-loopback ADDR", field(boolean, func(c *Config) *bool { return &c.Auth.Disabled })},
	{"ALLOWED_CONTENT_TYPES", "", "comma-separated media types or type/* patterns that may be uploaded, e.g. image/*,application/pdf; empty allows all", list(mediaRange, func(c *Config) *[]string { return &c.Limits.AllowedContentTypes })},
	{"COLLECTIONS_FILE", "", "path of a YAML (or JSON) file of collections: upload profiles with their own content types, size and count limits, and public files; empty for only the default collection", field(text, func(c *Config) *string { return &c.CollectionsFile })},
	{"USER_QUOTA_BYTES", "0", "bytes each user may hold, saved and pending together (size syntax as MAX_UPLOAD_SIZE); 0 for no quota", field(ParseSize, func(c *Config) *int64 { return &c.Limits.UserQuotaBytes })},
	{"MAX_PENDING_UPLOADS", "1000", "uploads a user may have issued and not yet saved", field(positive, func(c *Config) *int { return &c.Limits.MaxPendingUploads })},
	{"GRAPHQL_INTROSPECTION", "", "true or false; default true in development mode, false otherwise", field(optionalBool, func(c *Config) *bool { return &c.GraphQL.Introspection })},
	{"GRAPHQL_MAX_DEPTH", "12", "deepest selection a query may make (introspection fields not counted)", field(positive, func(c *Config) *int { return &c.GraphQL.MaxDepth })},
	{"GRAPHQL_MAX_COMPLEXITY", "5000", "largest query complexity: one per field, lists count once per item asked for", field(positive, func(c *Config) *int { return &c.GraphQL.MaxComplexity })},
	{"GRAPHQL_TRUSTED_DOCUMENTS", "", "path of a persisted-documents manifest (JSON, hash to document, as graphql-codegen's client-preset writes it): only its operations run, by hash or exact text, and introspection is off", field(text, func(c *Config) *string { return &c.GraphQL.TrustedDocuments })},
	{"REQUEST_TIMEOUT", "30s", "longest one API request may take", field(duration(time.Second, "30s"), func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"UPLOAD_SAVE_WINDOW", "1h", "how long after its URL expires an upload may still be saved; then the sweeper removes it", field(duration(0, "30s"), func(c *Config) *time.Duration { return &c.UploadSaveWindow })},
	{"SWEEP_INTERVAL", "1m", "how often to remove expired uploads and finish interrupted deletes; 0 turns the sweeper off in this process", field(duration(0, "30s"), func(c *Config) *time.Duration { return &c.SweepInterval })},
	{"MIGRATE_ON_START", "true", "apply database migrations at startup; false to run `filegraph migrate` as a deploy step", field(boolean, func(c *Config) *bool { return &c.MigrateOnStart })},
	{"METRICS_ADDR", "127.0.0.1:9464", "address of the Prometheus /metrics listener, apart from the API; off for none; the same as ADDR puts /metrics on the API listener", field(metricsAddr, func(c *Config) *string { return &c.MetricsAddr })},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/HTTP collector to send traces to, e.g. http://127.0.0.1:4318; empty for no tracing; the SDK's other OTEL_* variables apply", field(httpURL, func(c *Config) *string { return &c.OTLPEndpoint })},
	{"DB_MAX_CONNS", "10", "most database connections this process opens, plus one kept for /readyz; 10 lets 8 replicas share PostgreSQL's default 100 slots", field(positive, func(c *Config) *int { return &c.DBMaxConns })},
	{"DATABASE_PREPARE", "true", "PostgreSQL: each connection prepares a statement the second time it sends it and then runs it by name, unparsed (plans are still made per call); false behind a pooler in transaction mode (PgBouncer before 1.21, or without max_prepared_statements)", field(boolean, func(c *Config) *bool { return &c.DBPrepare })},
	{"DRAIN_DELAY", "5s", "after SIGTERM, how long /readyz answers 503 draining while requests are still served, so load balancers stop sending first", field(duration(0, "5s"), func(c *Config) *time.Duration { return &c.DrainDelay })},
	{"SHUTDOWN_GRACE", "30s", "then, how long requests in flight may take to finish before their connections are closed", field(duration(0, "30s"), func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"SCAN_CLAMD_ADDR", "", "clamd (ClamAV's daemon) to scan every saved file with, tcp://host:port or unix:/path; files are SCANNING, and served to nobody, until it finds them clean; empty for no scanning", field(clamdAddr, func(c *Config) *string { return &c.Scan.ClamdAddr })},
	{"SCAN_MAX_SIZE", "100MiB", "largest file scanned (clamd's StreamMaxLength must allow it); larger files are UNSCANNED", field(positiveSize, func(c *Config) *int64 { return &c.Scan.MaxSize })},
	{"SCAN_ALLOW_UNSCANNED", "false", "let UNSCANNED files (over SCAN_MAX_SIZE) be downloaded", field(boolean, func(c *Config) *bool { return &c.Scan.AllowUnscanned })},
	{"PROCESS_CONCURRENCY", "2", "background jobs (scans) this process runs at once; every replica claims from the same table", field(positive, func(c *Config) *int { return &c.Processing.Concurrency })},
	{"PROCESS_JOB_TIMEOUT", "2m", "longest one background job may run; a replica killed mid-job leaves it to another after twice this", field(duration(time.Second, "2m"), func(c *Config) *time.Duration { return &c.Processing.JobTimeout })},
	{"IMAGE_MAX_PIXELS", "50000000", "largest image (width x height, read from its header before decoding) that variants are made of; larger ones, decompression bombs, get none", field(positive, func(c *Config) *int { return &c.Processing.ImageMaxPixels })},
	{"DISK_MAX_PUTS", "128", "disk storage: PUTs (whole files and parts) streaming at once; more are answered 503 with Retry-After before their bodies are read (each may hold 4 MiB of buffers)", field(positive, func(c *Config) *int { return &c.DiskPuts.Max })},
	{"DISK_MAX_PUTS_PER_USER", "32", "disk storage: of those, how many one user's uploads may be (a browser uploads 3 files of 4 parts at a time by default)", field(positive, func(c *Config) *int { return &c.DiskPuts.MaxPerUser })},
	{"DISK_PUT_IDLE_TIMEOUT", "30s", "disk storage: a PUT whose body sends nothing for this long is cut off (408), whatever its URL's expiry", field(duration(time.Second, "30s"), func(c *Config) *time.Duration { return &c.DiskPuts.IdleTimeout })},
	{"MAX_SUBSCRIPTIONS", "1000", "subscriptions (WebSocket or event stream) this process serves at once; more are refused with FORBIDDEN", field(positive, func(c *Config) *int { return &c.Events.MaxSubscriptions })},
	{"MAX_SUBSCRIPTIONS_PER_USER", "5", "of those, how many one user may have open (a few tabs)", field(positive, func(c *Config) *int { return &c.Events.MaxSubscriptionsPerUser })},
	{"DISK_MIN_FREE", "256MiB", "disk storage: with less free space than this in DATA_DIR, /readyz says storage is unavailable and no upload URLs are issued", field(ParseSize, func(c *Config) *int64 { return &c.DiskMinFree })},
	{"WEBHOOK_URL", "", "http(s) URL, or comma-separated URLs, that every event is POSTed to (Standard Webhooks); empty for none", list(webhookURL, func(c *Config) *[]string { return &c.Webhooks.URLs })},
	{"WEBHOOK_SECRET", "", "whsec_ followed by a base64 key of 24 to 64 bytes, signing each webhook (webhook-signature); needed with WEBHOOK_URL", field(webhookSecret, func(c *Config) *[]byte { return &c.Webhooks.Secret })},
	{"WEBHOOK_EVENTS", "", "comma-separated event types to send: file.saved, file.updated, file.deleted, file.scanned, file.variants_ready; empty for all", list(oneOf(EventTypes...), func(c *Config) *[]string { return &c.Webhooks.Events })},
	{"WEBHOOK_TIMEOUT", "10s", "how long a receiver has to answer 2xx before the try counts as failed", field(duration(time.Second, "10s"), func(c *Config) *time.Duration { return &c.Webhooks.Timeout })},
	{"WEBHOOK_RETRY_FOR", "24h", "how long a delivery is retried (exponential backoff with jitter) before it is marked failed", field(duration(time.Second, "24h"), func(c *Config) *time.Duration { return &c.Webhooks.RetryFor })},
	{"WEBHOOK_KEEP", "168h", "how long delivered webhooks (and the events they carried) are kept before they are pruned", field(duration(time.Minute, "168h"), func(c *Config) *time.Duration { return &c.Webhooks.Keep })},
	{"WEBHOOK_ALLOW_PRIVATE", "false", "allow webhook URLs on loopback, private and link-local addresses (refused by default, at start and again at each connection)", field(boolean, func(c *Config) *bool { return &c.Webhooks.AllowPrivate })},
}

// Load reads and checks the configuration. Its error names every bad
// setting and what to do about it.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	for _, s := range Settings {
		v := strings.TrimSpace(getenv(s.Env))
		if v == "" {
			v = s.Default
		}
		s.set(&c, v, func(format string, args ...any) { bad(s.Env, format, args...) })
	}
	c.crossCheck(func(name string) bool { return strings.TrimSpace(getenv(name)) != "" }, bad)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// crossCheck fills defaults that depend on other settings and checks
// settings against each other; set reports whether a variable was given.
func (c *Config) crossCheck(set func(name string) bool, bad func(name, format string, args ...any)) {
	if c.PublicURL == "" {
		c.PublicURL = DefaultPublicURL(c.Addr)
	}
	if c.MaxUploadSize > MaxObjectSize {
		bad("MAX_UPLOAD_SIZE", "%d bytes is over 5TiB, the largest object S3 keeps", c.MaxUploadSize)
	}
	if c.S3.Bucket != "" && c.S3.PublicBaseURL == "" {
		c.S3.PublicBaseURL = bucketURL(c.S3)
	}
	if c.CollectionsFile != "" {
		// After MAX_UPLOAD_SIZE and ALLOWED_CONTENT_TYPES, which the
		// collections may only tighten.
		cs, err := loadCollections(c.CollectionsFile, c.MaxUploadSize, c.Limits.AllowedContentTypes)
		for _, e := range unjoin(err) {
			bad("COLLECTIONS_FILE", "%v", e)
		}
		c.Collections = cs
	}
	if c.S3.SetBucketCORS && len(c.CORSAllowedOrigins) == 0 {
		bad("S3_SET_BUCKET_CORS", "needs CORS_ALLOWED_ORIGINS")
	}
	if len(c.Webhooks.URLs) > 0 && len(c.Webhooks.Secret) == 0 {
		bad("WEBHOOK_SECRET", "is needed with WEBHOOK_URL: receivers verify each webhook with it; make one with `echo whsec_$(openssl rand -base64 32)`")
	}
	if c.Webhooks.Timeout >= c.Webhooks.RetryFor && len(c.Webhooks.URLs) > 0 {
		bad("WEBHOOK_RETRY_FOR", "%v leaves no time for a retry after WEBHOOK_TIMEOUT (%v)", c.Webhooks.RetryFor, c.Webhooks.Timeout)
	}
	if c.DiskPuts.MaxPerUser > c.DiskPuts.Max {
		bad("DISK_MAX_PUTS_PER_USER", "%d is more than DISK_MAX_PUTS (%d)", c.DiskPuts.MaxPerUser, c.DiskPuts.Max)
	}
	a := c.Auth
	if a.JWKSURL != "" && len(a.JWTSecret) > 0 {
		bad("AUTH_JWT_SECRET", "cannot be set together with AUTH_JWKS_URL: choose one")
	}
	if a.Development() && !a.Disabled && !loopback(c.Addr) {
		bad("ADDR", "%q is not a loopback address and no auth is configured: set AUTH_JWKS_URL or AUTH_JWT_SECRET, or AUTH_DISABLED=true to serve everyone as one local user", c.Addr)
	}
	if !set("GRAPHQL_INTROSPECTION") {
		c.GraphQL.Introspection = a.Development() && c.GraphQL.TrustedDocuments == ""
	} else if c.GraphQL.Introspection && c.GraphQL.TrustedDocuments != "" {
		bad("GRAPHQL_INTROSPECTION", "cannot be true with GRAPHQL_TRUSTED_DOCUMENTS: introspection is not among the trusted documents")
	}
}

// unjoin lists the errors errors.Join joined, so each is reported as a line
// of its own naming the setting.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// bucketURL is the bucket's own URL, where its objects are readable
// without a signature if its policy allows it: path style under an
// endpoint, virtual-hosted otherwise (as the SDK addresses it).
func bucketURL(s S3) string {
	if s.Endpoint == "" {
		return "https://" + s.Bucket + ".s3." + s.Region + ".amazonaws.com/"
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		return ""
	}
	if s.ForcePathStyle {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + s.Bucket + "/"
	} else {
		u.Host = s.Bucket + "." + u.Host
		u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	}
	return u.String()
}

// MetricsOnAPI reports whether /metrics is served on the API's listener
// (METRICS_ADDR the same as ADDR). Port 0 is any free port, so two of them
// are two listeners.
func (c Config) MetricsOnAPI() bool {
	_, port, _ := net.SplitHostPort(c.Addr)
	return c.MetricsAddr == c.Addr && port != "0"
}

// DefaultPublicURL is PUBLIC_URL's default for a server listening on addr.
// With port 0 (any free port) main recomputes it from the bound address.
func DefaultPublicURL(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// field reads a setting with parse into the Config field dst points at.
// parse's error is the message shown after the setting's name.
func field[T any](parse func(string) (T, error), dst func(*Config) *T) func(*Config, string, func(string, ...any)) {
	return func(c *Config, v string, bad func(string, ...any)) {
		x, err := parse(v)
		if err != nil {
			bad("%v", err)
		}
		*dst(c) = x
	}
}

// list reads a comma-separated setting, each item with parse; empty items
// are skipped and each bad item is reported.
func list(parse func(string) (string, error), dst func(*Config) *[]string) func(*Config, string, func(string, ...any)) {
	return func(c *Config, v string, bad func(string, ...any)) {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			x, err := parse(item)
			if err != nil {
				bad("%v", err)
			}
			*dst(c) = append(*dst(c), x)
		}
	}
}

// The parsers. Each returns the value it read, also with its error, so
// that cross checks and messages see what was given.

func text(s string) (string, error) { return s, nil }

func clamdAddr(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if _, _, err := clamd.ParseAddr(s); err != nil {
		return "", err
	}
	return s, nil
}

// rolesSeparator reads the word space as " ": a setting's value is trimmed,
// so a space itself could not be given.
func rolesSeparator(s string) (string, error) {
	if s == "space" {
		return " ", nil
	}
	return s, nil
}

func hostPort(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return s, fmt.Errorf("%q is not host:port (for example 127.0.0.1:8080 or :8080)", s)
	}
	return s, nil
}

func boolean(s string) (bool, error) {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return v, nil
}

// metricsAddr is host:port, or "off" for no metrics listener ("").
func metricsAddr(s string) (string, error) {
	if s == "off" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return s, fmt.Errorf("%q is not host:port (for example 127.0.0.1:9464) or off", s)
	}
	return s, nil
}

// optionalBool leaves an empty value to crossCheck.
func optionalBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return boolean(s)
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return n, fmt.Errorf("%q is not a positive whole number", s)
	}
	return n, nil
}

// partSize is a size within S3's bounds on a part.
func partSize(s string) (int64, error) {
	n, err := ParseSize(s)
	if err == nil && (n < 5<<20 || n > 5<<30) {
		err = fmt.Errorf("%q must be from 5MiB to 5GiB, S3's bounds on a part", s)
	}
	return n, err
}

func positiveSize(s string) (int64, error) {
	n, err := ParseSize(s)
	if err == nil && n < 1 {
		err = errors.New("must be at least 1 byte")
	}
	return n, err
}

// duration reads a duration from min to maxDuration; example goes in the
// message.
func duration(min time.Duration, example string) func(string) (time.Duration, error) {
	return func(s string) (time.Duration, error) {
		v, err := time.ParseDuration(s)
		if err != nil || v < min || v > maxDuration {
			return v, fmt.Errorf("%q must be a duration from %v to 168h, such as %s", s, min, example)
		}
		return v, nil
	}
}

// oneOf reads a lower-cased value from choices.
func oneOf(choices ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		s = strings.ToLower(s)
		for _, c := range choices {
			if s == c {
				return s, nil
			}
		}
		last := len(choices) - 1
		return s, fmt.Errorf("%q is not %s or %s", s, strings.Join(choices[:last], ", "), choices[last])
	}
}

func postgresURL(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return s, errors.New("must be a postgres:// URL, or empty for SQLite")
	}
	return s, nil
}

func endpointURL(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	if u, err := url.Parse(s); err != nil || u.Scheme == "" || u.Host == "" {
		return s, fmt.Errorf("%q is not a URL such as http://127.0.0.1:9000", s)
	}
	return s, nil
}

func httpURL(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, fmt.Errorf("%q is not an http(s) URL", s)
	}
	return s, nil
}

// webhookURL is an http(s) URL without user information (a receiver
// authenticates webhooks by their signature) or fragment. Whether its
// address may be reached is internal/webhooks' check, at start and at
// each connection.
func webhookURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return s, fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.User != nil || u.Fragment != "" {
		return s, fmt.Errorf("%q must not have user information or a fragment", u.Redacted())
	}
	return s, nil
}

// webhookSecret reads a Standard Webhooks secret: whsec_ and the base64 of
// the key.
func webhookSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b64, ok := strings.CutPrefix(s, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must be whsec_ followed by the base64 of a 24 to 64 byte key; make one with `echo whsec_$(openssl rand -base64 32)`")
	}
	return key, nil
}

// publicBaseURL is an http(s) URL ending in a slash, so that a key can
// follow it.
func publicBaseURL(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	if _, err := httpURL(s); err != nil {
		return s, err
	}
	if u, _ := url.Parse(s); u.RawQuery != "" || u.Fragment != "" {
		return s, fmt.Errorf("%q must not have a query or fragment: keys are appended to it", s)
	}
	return strings.TrimRight(s, "/") + "/", nil
}

// publicURL is an http(s) URL without a trailing slash; empty is filled
// from ADDR by crossCheck.
func publicURL(s string) (string, error) { return httpURL(strings.TrimRight(s, "/")) }

func hexKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) < 32 {
		return key, errors.New("must be at least 64 hex digits (32 bytes); make one with `openssl rand -hex 32`")
	}
	return key, nil
}

func secret(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) < 32 {
		return []byte(s), errors.New("must be at least 32 bytes; make one with `openssl rand -hex 32`")
	}
	return []byte(s), nil
}

func origin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return o, fmt.Errorf("%q is not an origin such as https://app.example.com", o)
	}
	return strings.TrimSuffix(o, "/"), nil
}

// mediaRange is a lower-cased media type or type/* pattern.
func mediaRange(t string) (string, error) {
	t = strings.ToLower(t)
	typ, sub, ok := strings.Cut(t, "/")
	if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(t, " ;") {
		return t, fmt.Errorf("%q is not a media type such as image/png or a pattern such as image/*", t)
	}
	return t, nil
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
