//go:build browser

package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBrowserFlow runs the README's client code (taken from README.md at
// test time, see browserPage) in headless Chromium, on a
// page served from another origin than the API, against both backends:
// CORS preflights (the API's with Authorization), a fetch PUT of a File
// with the returned headers, save, and a fetch GET of the download URL. Run with `make test-browser`; CI
// installs Chromium and runs it.
func TestBrowserFlow(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	page, err := browserPage("API") // the page's own API, from its query string
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer site.Close()
	// The page is on http://localhost:PORT; the API is on 127.0.0.1, another origin.
	origin := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)

	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend, "CORS_ALLOWED_ORIGINS", origin)
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{origin}); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, chromium,
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom",
				origin+"/?api="+e.URL+"/query&token="+token(t, "browser-user"),
			).Output()
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			result := regexp.MustCompile(`RESULT (\w+) ?(.*)</pre>`).FindSubmatch(out)
			if result == nil {
				t.Fatalf("no result in the page:\n%s", out)
			}
			if string(result[1]) != "OK" {
				t.Fatalf("browser flow: %s %s", result[1], result[2])
			}
			t.Logf("%s", result[2])
		})
	}
}
