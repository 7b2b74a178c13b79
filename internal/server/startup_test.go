package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegraph/filegraph/internal/config"
)

func load(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStartupFromConfig wires S3 the way production does: from settings,
// with credentials from the SDK's default chain (here, its environment).
func TestStartupFromConfig(t *testing.T) {
	ctx := context.Background()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("AWS_ACCESS_KEY_ID", s3srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	bucket, err := s3srv.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"DATA_DIR":             t.TempDir(),
		"S3_BUCKET":            bucket,
		"S3_ENDPOINT":          s3srv.Endpoint,
		"S3_FORCE_PATH_STYLE":  "true",
		"S3_SET_BUCKET_CORS":   "true",
		"CORS_ALLOWED_ORIGINS": "https://app.example",
	}
	srv, err := New(ctx, load(t, vars), discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.store.Bucket() != bucket {
		t.Errorf("store bucket %q, want %q", srv.store.Bucket(), bucket)
	}
	cors, err := s3srv.Client().GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("bucket CORS after startup: %v", err)
	}
	if len(cors.CORSRules) != 1 || cors.CORSRules[0].AllowedOrigins[0] != "https://app.example" {
		t.Errorf("bucket CORS rules: %+v", cors.CORSRules)
	}

	vars["S3_BUCKET"] = "no-such-bucket"
	if _, err := New(ctx, load(t, vars), discard); err == nil || !strings.Contains(err.Error(), `"no-such-bucket"`) {
		t.Errorf("a missing bucket: %v, want an error naming it", err)
	}
	delete(vars, "S3_BUCKET")
	vars["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=2"
	if _, err := New(ctx, load(t, vars), discard); err == nil || !strings.Contains(err.Error(), "database") {
		t.Errorf("an unreachable database: %v, want an error saying so", err)
	}
}
