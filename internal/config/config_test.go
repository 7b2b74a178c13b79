package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("defaults: %+v", c)
	}
	if c.UploadURLTTL != 15*time.Minute || c.DownloadURLTTL != 15*time.Minute || c.MaxUploadSize != 5<<30 {
		t.Errorf("defaults: %+v", c)
	}
	if c.Auth.MaxTokenAge != 24*time.Hour || c.Auth.RolesSeparator != "" {
		t.Errorf("auth defaults: %+v", c.Auth)
	}
	if c.S3.Bucket != "" || c.DatabaseURL != "" {
		t.Errorf("default storage and database must be embedded: %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"ADDR":                 ":9000",
		"DATABASE_URL":         "postgres://u@db/files",
		"S3_BUCKET":            "b",
		"S3_ENDPOINT":          "http://127.0.0.1:7070",
		"S3_FORCE_PATH_STYLE":  "true",
		"MAX_UPLOAD_SIZE":      "10MiB",
		"UPLOAD_URL_TTL":       "5m",
		"CORS_ALLOWED_ORIGINS": "https://a.example, http://localhost:5173/",
		"STORAGE_SIGNING_KEY":  strings.Repeat("ab", 32),
		"AUTH_DISABLED":        "true",
		"AUTH_ROLES_SEPARATOR": "space",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.RolesSeparator != " " {
		t.Errorf("AUTH_ROLES_SEPARATOR=space read as %q", c.Auth.RolesSeparator)
	}
	if c.PublicURL != "http://localhost:9000" || !c.S3.ForcePathStyle || c.MaxUploadSize != 10<<20 || c.UploadURLTTL != 5*time.Minute {
		t.Errorf("%+v", c)
	}
	if len(c.CORSAllowedOrigins) != 2 || c.CORSAllowedOrigins[1] != "http://localhost:5173" {
		t.Errorf("origins = %q", c.CORSAllowedOrigins)
	}
	if len(c.StorageSigningKey) != 32 {
		t.Errorf("key length %d", len(c.StorageSigningKey))
	}
}

func TestBadValuesNameTheSetting(t *testing.T) {
	tests := map[string]string{
		"ADDR":                    "8080",
		"DATABASE_URL":            "mysql://x",
		"S3_FORCE_PATH_STYLE":     "maybe",
		"UPLOAD_URL_TTL":          "10 minutes",
		"DOWNLOAD_URL_TTL":        "800h",
		"MAX_UPLOAD_SIZE":         "0",
		"CORS_ALLOWED_ORIGINS":    "app.example.com",
		"STORAGE_SIGNING_KEY":     "abcd",
		"PUBLIC_URL":              "ftp://x",
		"LOG_LEVEL":               "loud",
		"AUTH_JWKS_URL":           "not a url",
		"AUTH_JWT_SECRET":         "short",
		"AUTH_DISABLED":           "perhaps",
		"AUTH_MAX_TOKEN_AGE":      "a day",
		"ALLOWED_CONTENT_TYPES":   "image",
		"USER_QUOTA_BYTES":        "lots",
		"MAX_PENDING_UPLOADS":     "0",
		"GRAPHQL_INTROSPECTION":   "sometimes",
		"GRAPHQL_MAX_DEPTH":       "-1",
		"GRAPHQL_MAX_COMPLEXITY":  "x",
		"REQUEST_TIMEOUT":         "0s",
		"UPLOAD_SAVE_WINDOW":      "forever",
		"MULTIPART_UPLOAD_WINDOW": "10s",
		"SWEEP_INTERVAL":          "1 minute",
		"MIGRATE_ON_START":        "yes please",
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v, want one naming %s", name, value, err, name)
		}
	}
	if c, err := Load(env(map[string]string{"S3_BUCKET": "b", "MAX_UPLOAD_SIZE": "5TiB"})); err != nil || c.MaxUploadSize != 5<<40 {
		t.Errorf("5TiB on S3 (in parts): %v, %d", err, c.MaxUploadSize)
	}
	_, err := Load(env(map[string]string{"MAX_UPLOAD_SIZE": "6TiB"}))
	if err == nil || !strings.Contains(err.Error(), "5TiB") {
		t.Errorf("6TiB: %v", err)
	}
	for _, v := range []string{"4MiB", "6GiB", "x"} {
		if _, err := Load(env(map[string]string{"PART_SIZE": v})); err == nil || !strings.Contains(err.Error(), "PART_SIZE") {
			t.Errorf("PART_SIZE=%s: %v", v, err)
		}
	}
}

// Development mode (no token verification) stays on loopback unless the
// operator says otherwise.
func TestDevelopmentModeOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, ":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false} {
		c, err := Load(env(map[string]string{"ADDR": addr}))
		if (err == nil) != ok {
			t.Errorf("ADDR=%s without auth: %v", addr, err)
		}
		if err != nil && !strings.Contains(err.Error(), "AUTH_DISABLED=true") {
			t.Errorf("ADDR=%s: error does not say what to do: %v", addr, err)
		}
		if ok && (!c.Auth.Development() || !c.GraphQL.Introspection) {
			t.Errorf("ADDR=%s: development mode should allow introspection: %+v", addr, c)
		}
	}
	if _, err := Load(env(map[string]string{"ADDR": ":8080", "AUTH_DISABLED": "true"})); err != nil {
		t.Errorf("AUTH_DISABLED=true: %v", err)
	}
	c, err := Load(env(map[string]string{"ADDR": ":8080", "AUTH_JWKS_URL": "https://issuer.example/.well-known/jwks.json"}))
	if err != nil || c.Auth.Development() || c.GraphQL.Introspection {
		t.Errorf("with a JWKS: %+v, %v", c, err)
	}
	if _, err := Load(env(map[string]string{"AUTH_JWKS_URL": "https://a.example/jwks", "AUTH_JWT_SECRET": strings.Repeat("s", 32)})); err == nil {
		t.Error("both JWKS and secret accepted")
	}
}

func TestLimits(t *testing.T) {
	c, err := Load(env(map[string]string{"ALLOWED_CONTENT_TYPES": " image/*, Application/PDF ", "USER_QUOTA_BYTES": "1GiB", "MAX_PENDING_UPLOADS": "20"}))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if len(l.AllowedContentTypes) != 2 || l.AllowedContentTypes[1] != "application/pdf" || l.UserQuotaBytes != 1<<30 || l.MaxPendingUploads != 20 {
		t.Errorf("%+v", l)
	}
}

// The README's configuration table lists every setting.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings {
		if !strings.Contains(string(readme), "| `"+s.Env+"` |") {
			t.Errorf("README's configuration table has no row for %s", s.Env)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1KiB": 1024, "5GiB": 5 << 30, "10MB": 10e6, "7 B": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1.5GiB", "99999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// Webhook settings are read with their defaults, and each bad value is
// named, without echoing a secret.
func TestWebhooks(t *testing.T) {
	key := "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	c, err := Load(env(map[string]string{
		"WEBHOOK_URL":    "https://a.example/hook, https://b.example/in?token=x",
		"WEBHOOK_SECRET": key,
		"WEBHOOK_EVENTS": "file.saved,file.deleted,file.scanned",
	}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Webhooks
	if len(w.URLs) != 2 || w.URLs[1] != "https://b.example/in?token=x" || string(w.Secret) != "0123456789abcdef0123456789abcdef" ||
		strings.Join(w.Events, ",") != "file.saved,file.deleted,file.scanned" || w.Timeout != 10*time.Second || w.RetryFor != 24*time.Hour ||
		w.Keep != 7*24*time.Hour || w.AllowPrivate {
		t.Errorf("%+v", w)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WEBHOOK_URL": "https://a.example/"}, "WEBHOOK_SECRET: is needed with WEBHOOK_URL"},
		{map[string]string{"WEBHOOK_URL": "ftp://a.example/", "WEBHOOK_SECRET": key}, `WEBHOOK_URL: "ftp://a.example/" is not an http(s) URL`},
		{map[string]string{"WEBHOOK_URL": "https://u:p@a.example/", "WEBHOOK_SECRET": key}, "must not have user information"},
		{map[string]string{"WEBHOOK_SECRET": "whsec_notbase64!"}, "WEBHOOK_SECRET: must be whsec_ followed by the base64"},
		{map[string]string{"WEBHOOK_SECRET": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, "WEBHOOK_SECRET: must be whsec_"},
		{map[string]string{"WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "a 24 to 64 byte key"},
		{map[string]string{"WEBHOOK_EVENTS": "file.saved,file.moved"}, `WEBHOOK_EVENTS: "file.moved" is not file.saved, file.updated, file.deleted, file.scanned or file.variants_ready`},
		{map[string]string{"WEBHOOK_TIMEOUT": "0s"}, "WEBHOOK_TIMEOUT:"},
		{map[string]string{"WEBHOOK_RETRY_FOR": "forever"}, "WEBHOOK_RETRY_FOR:"},
		{map[string]string{"WEBHOOK_URL": "https://a.example/", "WEBHOOK_SECRET": key, "WEBHOOK_TIMEOUT": "30s", "WEBHOOK_RETRY_FOR": "20s"}, "WEBHOOK_RETRY_FOR: 20s leaves no time"},
		{map[string]string{"WEBHOOK_KEEP": "1s"}, "WEBHOOK_KEEP:"},
		{map[string]string{"WEBHOOK_ALLOW_PRIVATE": "yes please"}, "WEBHOOK_ALLOW_PRIVATE:"},
	} {
		_, err := Load(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("the error echoes the secret: %v", err)
		}
	}
}
