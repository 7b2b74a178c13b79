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
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
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
