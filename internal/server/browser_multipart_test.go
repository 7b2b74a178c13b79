//go:build browser

package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pageReport is what the page posts to /report at each step.
type pageReport struct {
	Phase, Error, ID, Sha256, DownloadSha256 string
	OK                                       bool
	Size                                     int64
	PartCount, PartsDone, FoundParts         int
	ResumedParts, ProgressEvents             int
}

// TestBrowserMultipart: in headless Chromium, a generated 64 MiB Blob goes
// up in parts with 4 parallel XHRs and progress events; the page reloads
// itself halfway, the new page finds the upload through `uploads` and
// resumes it with the README's uploadLarge (uploadedParts, the rest of the
// parts, save); the download's bytes match, in the page and here. On both
// backends, from another origin than the API.
func TestBrowserMultipart(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	page, err := multipartPage()
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan pageReport, 10)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/report" {
			var rep pageReport
			if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
				rep = pageReport{Phase: "error", Error: "undecodable report: " + err.Error()}
			}
			reports <- rep
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer site.Close()
	origin := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)

	for i, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend, "CORS_ALLOWED_ORIGINS", origin, "PART_SIZE", "5MiB")
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{origin}); err != nil {
					t.Fatal(err)
				}
			}
			tok := token(t, "browser-user")
			cmd := exec.Command(chromium,
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+t.TempDir(),
				fmt.Sprintf("%s/?api=%s/query&token=%s&seed=%d", origin, e.URL, tok, 1000+i),
			)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers go with it
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				cmd.Wait()
			}()

			var before, saved pageReport
			timeout := time.After(3 * time.Minute)
			for saved.Phase == "" {
				select {
				case r := <-reports:
					switch r.Phase {
					case "before reload":
						before = r
					case "saved":
						saved = r
					default:
						t.Fatalf("the page failed: %+v (before the reload: %+v)", r, before)
					}
				case <-timeout:
					t.Fatalf("no result from the page in 3 minutes (before the reload: %+v)", before)
				}
			}
			t.Logf("before the reload: %+v", before)
			t.Logf("after: %+v", saved)
			if before.PartCount != 13 || before.PartsDone != 6 || before.ProgressEvents == 0 {
				t.Errorf("before the reload: %+v, want 6 of 13 parts done with progress events", before)
			}
			if saved.FoundParts < before.PartsDone || saved.FoundParts >= saved.PartCount || saved.ResumedParts != saved.PartCount-saved.FoundParts {
				t.Errorf("the resumed page found %d parts and had %d of %d to upload: not a resume",
					saved.FoundParts, saved.ResumedParts, saved.PartCount)
			}
			if !saved.OK || saved.Size != 64<<20 {
				t.Errorf("the page's download differs: %+v", saved)
			}
			// And the file as this side downloads it.
			var d struct{ FileDownloadURL struct{ URL string } }
			e.as(tok).do(downloadQ, map[string]any{"id": saved.ID}, &d)
			res, err := http.Get(d.FileDownloadURL.URL)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, _ := io.Copy(h, res.Body)
			res.Body.Close()
			if got := hex.EncodeToString(h.Sum(nil)); got != saved.Sha256 || n != 64<<20 {
				t.Errorf("downloaded %d bytes with SHA-256 %s, the page's Blob has %s", n, got, saved.Sha256)
			}
		})
	}
}
