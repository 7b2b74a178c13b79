//go:build browser

package server

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/playground"
	"github.com/filegraph/filegraph/internal/webapp"
)

// webDir holds the npm package whose playwright-core scripts (web/e2e)
// these tests run; `make test-browser` installs it first.
const webDir = "../../web"

// artifacts is where browser tests leave screenshots: $FILEGRAPH_ARTIFACTS,
// else a folder under the system's temp dir, named in the test log.
func artifacts(t *testing.T) string {
	dir := os.Getenv("FILEGRAPH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "filegraph-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// runE2E runs web/e2e/<script> with node and fails the test if it fails.
// Node and the Chromium it starts share a process group, which is killed
// by its id if the script outlives its deadline.
func runE2E(t *testing.T, script string, timeout time.Duration, env ...string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("web/node_modules is missing: run `make test-browser`, which installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", script))
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	// Whatever the script left behind in its group goes too.
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in %s:\n%s", script, timeout, out.Bytes())
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out.Bytes())
	}
	t.Logf("%s:\n%s", script, out.Bytes())
	return out.String()
}

// TestPlaygroundOffline loads the playground in Chromium that may reach no
// host but the server, and runs its example query.
func TestPlaygroundOffline(t *testing.T) {
	if !playground.Built() {
		t.Fatal("the playground's files are not embedded: run `make playground-assets` (make test-browser does)")
	}
	e := newEnv(t, "sqlite+disk")
	e.upload("offline-check.txt", "text/plain", []byte("seen from the playground"))
	runE2E(t, "playground.mjs", 2*time.Minute,
		"FILEGRAPH_URL="+e.URL, "EXPECT=offline-check.txt", "ARTIFACTS="+artifacts(t))
}

// TestWebApp drives the demo app (web/, embedded at /app/) in Chromium on
// both backends: small files dropped, paused, listed, downloaded, deleted; a
// large one in parts with the page reloaded mid-upload (parts stored, parts
// cut) and only the missing parts sent after; the Uppy page with a
// file in parts; collections (checked before asking, public URLs and
// images, metadata and folders shown and filtered on). On postgres+s3 the server runs only its trusted documents,
// which the app's production build sends by hash; on sqlite+disk it has no
// manifest and the app falls back to sending text.
func TestWebApp(t *testing.T) {
	if webapp.Handler() == nil {
		t.Fatal("the demo app is not embedded: run `make web-app` (make test-browser does)")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			settings := []string{}
			if backend == "postgres+s3" {
				settings = append(settings, "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
			}
			// The smallest part size, so that a few parts are a few MiB.
			const partSize = 5 << 20
			collections := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(collections, []byte(webAppCollections), 0o600); err != nil {
				t.Fatal(err)
			}
			settings = append(settings, "PART_SIZE", "5MiB",
				"ALLOWED_CONTENT_TYPES", "text/plain,application/octet-stream,image/png,image/webp",
				"COLLECTIONS_FILE", collections)
			e := newAuthEnv(t, backend, settings...)
			allow := ""
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{e.URL}); err != nil {
					t.Fatal(err)
				}
				allow = s3srv.Endpoint
				applyREADMEPolicy(t, e.store.Bucket())
			}
			name := strings.ReplaceAll(backend, "+", "-")
			env := []string{"APP_URL=" + e.URL + "/app/", "TOKEN=" + token(t, "web-user"), "ALLOW=" + allow,
				"ARTIFACTS=" + artifacts(t), "NAME=" + name, "PART_SIZE=" + strconv.Itoa(partSize)}
			// In turn on one server: app.mjs counts the files it sees.
			runE2E(t, "app.mjs", 3*time.Minute, env...)
			runE2E(t, "resume.mjs", 3*time.Minute, env...)
			runE2E(t, "uppy.mjs", 3*time.Minute, env...)
			runE2E(t, "collections.mjs", 3*time.Minute, env...)
		})
	}
}

// webAppCollections are the collections the demo app is driven with
// (collections.mjs knows them).
const webAppCollections = `
collections:
  avatars:
    allowedContentTypes: [image/png, image/webp]
    maxFileSize: 2KiB
    maxFilesPerRequest: 1
    public: true
  documents:
    allowedContentTypes: [text/plain]
`

// TestWebAppLive opens the demo app in two tabs on both backends: a file
// uploaded in one appears in the other's list by itself (the app's
// graphql-ws subscription), and leaves it when deleted. On postgres+s3 the
// server runs only its trusted documents, the subscription among them.
func TestWebAppLive(t *testing.T) {
	if webapp.Handler() == nil {
		t.Fatal("the demo app is not embedded: run `make web-app` (make test-browser does)")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			settings := []string{"ALLOWED_CONTENT_TYPES", "text/plain"}
			if backend == "postgres+s3" {
				settings = append(settings, "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
			}
			e := newAuthEnv(t, backend, settings...)
			allow := ""
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{e.URL}); err != nil {
					t.Fatal(err)
				}
				allow = s3srv.Endpoint
			}
			runE2E(t, "live.mjs", 2*time.Minute, "APP_URL="+e.URL+"/app/", "TOKEN="+token(t, "live-user"), "ALLOW="+allow,
				"ARTIFACTS="+artifacts(t), "NAME="+strings.ReplaceAll(backend, "+", "-"))
		})
	}
}

// TestWebAppDownload: in the demo app on both backends, files are
// downloaded by the links their list brought (File.downloadUrl), with no
// fileDownloadUrl request, and once the page's clock is past a link's
// expiry by one fresh fileDownloadUrl; every download's bytes compared. On
// postgres+s3 the server runs only its trusted documents.
func TestWebAppDownload(t *testing.T) {
	if webapp.Handler() == nil {
		t.Fatal("the demo app is not embedded: run `make web-app` (make test-browser does)")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			settings := []string{"ALLOWED_CONTENT_TYPES", "text/plain,application/octet-stream"}
			if backend == "postgres+s3" {
				settings = append(settings, "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
			}
			e := newAuthEnv(t, backend, settings...)
			allow := ""
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{e.URL}); err != nil {
					t.Fatal(err)
				}
				allow = s3srv.Endpoint
			}
			runE2E(t, "download.mjs", 3*time.Minute, "APP_URL="+e.URL+"/app/", "TOKEN="+token(t, "download-user"), "ALLOW="+allow,
				"ARTIFACTS="+artifacts(t), "NAME="+strings.ReplaceAll(backend, "+", "-"))
		})
	}
}

// TestWebAppThumbnails: in the demo app on both backends, a real JPEG and
// PNG dropped into a collection with a thumb variant show their thumbnails
// once the variants job has made them: each <img> is the listed variant's
// url, 64x64 as attributes and decoded, fetched as an image, the original
// never fetched (thumbs.mjs). On postgres+s3 the server runs only its
// trusted documents.
func TestWebAppThumbnails(t *testing.T) {
	if webapp.Handler() == nil {
		t.Fatal("the demo app is not embedded: run `make web-app` (make test-browser does)")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			collections := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(collections, []byte(thumbCollections), 0o600); err != nil {
				t.Fatal(err)
			}
			settings := []string{"ALLOWED_CONTENT_TYPES", "image/jpeg,image/png", "COLLECTIONS_FILE", collections}
			if backend == "postgres+s3" {
				settings = append(settings, "GRAPHQL_TRUSTED_DOCUMENTS", manifestPath)
			}
			e := newAuthEnv(t, backend, settings...)
			allow := ""
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{e.URL}); err != nil {
					t.Fatal(err)
				}
				allow = s3srv.Endpoint
			}
			runE2E(t, "thumbs.mjs", 3*time.Minute, "APP_URL="+e.URL+"/app/", "TOKEN="+token(t, "thumbs-user"), "ALLOW="+allow,
				"ARTIFACTS="+artifacts(t), "NAME="+strings.ReplaceAll(backend, "+", "-"))
		})
	}
}

// thumbCollections has the collection thumbs.mjs drops its images into (a
// collection of their own, so that collections.mjs's list of webAppCollections
// stays as it is).
const thumbCollections = `
collections:
  images:
    allowedContentTypes: [image/jpeg, image/png]
    variants:
      thumb: { width: 64, height: 64, fit: cover }
`

// TestPlaygroundWithAuth: with auth on and introspection allowed, the
// playground opens with the header editor holding an Authorization header;
// with a token there the example query runs as that user.
func TestPlaygroundWithAuth(t *testing.T) {
	if !playground.Built() {
		t.Fatal("the playground's files are not embedded: run `make playground-assets` (make test-browser does)")
	}
	e := newAuthEnv(t, "sqlite+disk", "GRAPHQL_INTROSPECTION", "true")
	tok := token(t, "playground-user")
	e.as(tok).upload("with-token.txt", "text/plain", []byte("seen with a token"))
	runE2E(t, "playground.mjs", 2*time.Minute,
		"FILEGRAPH_URL="+e.URL, "EXPECT=with-token.txt", "TOKEN="+tok, "ARTIFACTS="+artifacts(t))
}
