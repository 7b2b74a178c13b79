package config

import (
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
	}))
	if err != nil {
		t.Fatal(err)
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
		"ADDR":                 "8080",
		"DATABASE_URL":         "mysql://x",
		"S3_FORCE_PATH_STYLE":  "maybe",
		"UPLOAD_URL_TTL":       "10 minutes",
		"DOWNLOAD_URL_TTL":     "800h",
		"MAX_UPLOAD_SIZE":      "0",
		"CORS_ALLOWED_ORIGINS": "app.example.com",
		"STORAGE_SIGNING_KEY":  "abcd",
		"PUBLIC_URL":           "ftp://x",
		"LOG_LEVEL":            "loud",
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v, want one naming %s", name, value, err, name)
		}
	}
	_, err := Load(env(map[string]string{"S3_BUCKET": "b", "MAX_UPLOAD_SIZE": "6GiB"}))
	if err == nil || !strings.Contains(err.Error(), "5GiB") {
		t.Errorf("6GiB on S3: %v", err)
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
