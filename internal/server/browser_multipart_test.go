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
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// partProxy is the HTTP proxy Chromium is told to use. It forwards every
// request as it came (the Host header too, so presigned URLs still match
// their signatures), tells the two pages apart by their Referer (the page
// sends its whole address, and the reloaded one's says "reloaded"), and
// keeps each page's part PUTs. Before the reloaded page's first request
// goes on, it waits for the first page's requests to end and asks the
// server which parts it holds: what the new page will be told.
type partProxy struct {
	*httptest.Server
	stored func() ([]int, error)
	asked  sync.Once // the reloaded page's requests wait for it
	mu     sync.Mutex
	first  int   // the first page's requests in flight
	found  []int // parts stored when the reloaded page started
	err    error
	loads  int            // GETs of the page document
	parts  map[bool][]int // part PUTs, by whether the reloaded page sent them
}

func newPartProxy(pageHost string, stored func() ([]int, error)) *partProxy {
	p := &partProxy{stored: stored, parts: map[bool][]int{}}
	forward := &httputil.ReverseProxy{
		// A proxy request's URL is absolute: sent on as it is.
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.Host = r.In.Host },
		Transport: &http.Transport{}, // no proxy of its own
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host == "" {
			http.Error(w, "only proxy requests", http.StatusBadRequest)
			return
		}
		first, reloaded := r.Referer() != "" && !strings.Contains(r.Referer(), "reloaded"), strings.Contains(r.Referer(), "reloaded")
		p.mu.Lock()
		if r.Method == http.MethodGet && r.URL.Host == pageHost && r.URL.Path == "/" {
			p.loads++
		}
		if first {
			p.first++
		}
		if n, err := strconv.Atoi(r.URL.Query().Get("partNumber")); err == nil && r.Method == http.MethodPut {
			p.parts[reloaded] = append(p.parts[reloaded], n)
		}
		p.mu.Unlock()
		if reloaded {
			p.asked.Do(p.ask)
		}
		forward.ServeHTTP(w, r)
		if first {
			p.mu.Lock()
			p.first--
			p.mu.Unlock()
		}
	}))
	return p
}

// ask waits for the first page's requests to end (it is gone; those it
// left, such as parts cut by the reload, end as soon as the browser drops
// them) and reads what the storage holds.
func (p *partProxy) ask() {
	open := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		open = p.first
		p.mu.Unlock()
		if open == 0 {
			break
		}
	}
	var found []int
	err := fmt.Errorf("%d requests of the first page still open 30s after the reload", open)
	if open == 0 {
		found, err = p.stored()
	}
	p.mu.Lock()
	p.found, p.err = found, err
	p.mu.Unlock()
}

// result returns the page loads, the parts stored when the reloaded page
// started, and each page's part PUTs.
func (p *partProxy) result() (loads int, found []int, parts map[bool][]int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loads, p.found, map[bool][]int{false: p.parts[false], true: p.parts[true]}, p.err
}

// TestBrowserMultipart: in headless Chromium, a generated 64 MiB Blob goes
// up in parts with 4 parallel XHRs and progress events; the page reloads
// itself halfway, the new page finds the upload through `uploads` and
// resumes it with the README's uploadLarge (uploadedParts, the rest of the
// parts, save); the download's bytes match, in the page and here. On both
// backends, from another origin than the API. Chromium goes through the
// test's proxy, which counts the part PUTs: after the reload exactly the
// parts not stored before it must be sent, each once.
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
	originURL, _ := url.Parse(origin)

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
			name := fmt.Sprintf("big-%d.bin", 1000+i)
			proxy := newPartProxy(originURL.Host, func() ([]int, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := e.as(tok).send(ctx, `{ uploads(first: 10) { edges { node { originalName uploadedParts { partNumber } } } } }`, nil)
				if err != nil || len(res.Errors) > 0 {
					return nil, fmt.Errorf("uploads: %v %+v", err, res.Errors)
				}
				var d struct {
					Uploads struct {
						Edges []struct {
							Node struct {
								OriginalName  string
								UploadedParts []struct{ PartNumber int }
							}
						}
					}
				}
				if err := json.Unmarshal(res.Data, &d); err != nil {
					return nil, err
				}
				var found []int
				for _, e := range d.Uploads.Edges {
					if e.Node.OriginalName == name {
						for _, p := range e.Node.UploadedParts {
							found = append(found, p.PartNumber)
						}
					}
				}
				return found, nil
			})
			defer proxy.Close()
			cmd := exec.Command(chromium,
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+t.TempDir(),
				// Loopback too goes through the proxy.
				"--proxy-server="+proxy.URL, "--proxy-bypass-list=<-loopback>",
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
			// What the storage held when the new page started, as the
			// server says, against the part PUTs the new page sent.
			loads, found, parts, err := proxy.result()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("through the proxy: %d page loads; the first sent part PUTs %v; %d parts stored at the reload %v; the reloaded page sent %v",
				loads, parts[false], len(found), found, parts[true])
			if loads != 2 {
				t.Errorf("the page was loaded %d times through the proxy, want 2", loads)
			}
			if len(found) < before.PartsDone || len(found) >= before.PartCount {
				t.Errorf("%d of %d parts stored at the reload, want %d or more and not all: not a resume", len(found), before.PartCount, before.PartsDone)
			}
			sent := map[int]int{}
			for _, n := range parts[true] {
				sent[n]++
			}
			for n := 1; n <= before.PartCount; n++ {
				want := 1
				if slices.Contains(found, n) {
					want = 0
				}
				if sent[n] != want {
					t.Errorf("part %d: %d PUTs after the reload, want %d (stored: %v)", n, sent[n], want, want == 0)
				}
			}
			if saved.ResumedParts != len(parts[true]) {
				t.Errorf("the page says it sent %d parts after the reload, the proxy saw %d", saved.ResumedParts, len(parts[true]))
			}
			if !saved.OK || saved.Size != 64<<20 {
				t.Errorf("the page's download differs: %+v", saved)
			}
			// And the file as this side downloads it.
			var d struct{ FileDownloadURL struct{ URL string } }
			e.as(tok).do(downloadQ, map[string]any{"id": saved.ID}, &d)
			res, err := client.Get(d.FileDownloadURL.URL)
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
