package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/testenv"
)

const (
	scanSaveQ = `mutation($files: [SaveFileInput!]!) { saveFiles(files: $files) { id fileName status url } }`
	scanNodeQ = `query($id: ID!) { node(id: $id) { ... on File { id fileName status scanResult url } } }`
)

type scannedFile struct {
	ID, FileName, Status string
	ScanResult, URL      *string
}

// uploadScanned creates, PUTs and saves one file, returning what saveFiles
// answered.
func (e *env) uploadScanned(name, contentType, collection string, body []byte) scannedFile {
	e.t.Helper()
	req := map[string]any{"originalName": name, "size": len(body), "contentType": contentType}
	if collection != "" {
		req["collection"] = collection
	}
	u := e.createUploads(req)[0]
	e.put(u, body)
	var out struct{ SaveFiles []scannedFile }
	e.do(scanSaveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &out)
	return out.SaveFiles[0]
}

// file reads the file back.
func (e *env) scanned(id string) scannedFile {
	e.t.Helper()
	var out struct{ Node scannedFile }
	e.do(scanNodeQ, map[string]any{"id": id}, &out)
	return out.Node
}

// waitUntil polls cond every 20ms until it holds; after a minute the test
// fails, saying what it waited for.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus waits until the file's status is want and returns it.
func (e *env) waitStatus(id, want string) scannedFile {
	e.t.Helper()
	var f scannedFile
	waitUntil(e.t, id+" to be "+want, func() bool { f = e.scanned(id); return f.Status == want })
	return f
}

// scanEvents returns the file.scanned events of the file, their data.
func (e *env) scanEvents(id string) []files.EventData {
	e.t.Helper()
	evs, err := e.srv.db.Ent.Event.Query().Where(event.Type(files.EventScanned)).Order(event.ByID()).All(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []files.EventData
	for _, ev := range evs {
		var d files.EventData
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			e.t.Fatal(err)
		}
		if d.ID.String() == id {
			out = append(out, d)
		}
	}
	return out
}

// jobsOf returns the file's job rows.
func (e *env) jobsOf(fileName string) []*ent.Job {
	e.t.Helper()
	ctx := context.Background()
	f, err := e.srv.db.Ent.File.Query().Where().All(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range f {
		if x.FileName == fileName {
			js, err := e.srv.db.Ent.Job.Query().Where(job.FileID(x.ID)).All(ctx)
			if err != nil {
				e.t.Fatal(err)
			}
			return js
		}
	}
	return nil
}

// reconcileClean runs reconcile and fails on anything it finds.
func (e *env) reconcileClean() {
	e.t.Helper()
	r, err := e.srv.Files.Reconcile(auth.WithUser(context.Background(), auth.LocalUser), false)
	if err != nil || len(r.Orphans) != 0 || len(r.Missing) != 0 {
		e.t.Errorf("reconcile: %+v, %v", r, err)
	}
}

// TestScanGate runs the virus scan gate against a real clamd on both
// backends: a clean file goes READY and downloads; EICAR goes INFECTED,
// its object is deleted at once, its bytes leave the quota and downloads
// answer FILE_INFECTED; with clamd stopped files stay SCANNING (private
// and public alike serve nothing) and go READY once it is back; a file
// deleted while clamd holds its scan leaves nothing behind.
func TestScanGate(t *testing.T) {
	d := testenv.StartClamd(t)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			coll := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(coll, []byte(collectionsFile), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, "SCAN_CLAMD_ADDR", d.Addr, "COLLECTIONS_FILE", coll)
			ctx := context.Background()

			body := randomBytes(200_000)
			clean := e.uploadScanned("clean.bin", "application/octet-stream", "", body)
			if clean.Status != "SCANNING" {
				t.Errorf("saveFiles answered status %s, want SCANNING", clean.Status)
			}
			e.waitStatus(clean.ID, "READY")
			if got := e.download(clean.ID); !bytes.Equal(got, body) {
				t.Errorf("download of the clean file: %d bytes differ", len(got))
			}

			bad := e.uploadScanned("eicar.com", "application/octet-stream", "", []byte(testenv.EICAR))
			f := e.waitStatus(bad.ID, "INFECTED")
			if f.ScanResult == nil || *f.ScanResult != testenv.EICARSignature {
				t.Errorf("scanResult %v, want %s", f.ScanResult, testenv.EICARSignature)
			}
			ge := e.fail("FILE_INFECTED", downloadQ, map[string]any{"id": bad.ID})
			if ge.Extensions["status"] != "INFECTED" {
				t.Errorf("FILE_INFECTED extensions: %v", ge.Extensions)
			}
			if _, err := e.store.Stat(ctx, bad.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("infected object: %v, want it deleted", err)
			}
			if evs := e.scanEvents(bad.ID); len(evs) != 1 || evs[0].Status != "INFECTED" || evs[0].ScanResult == nil || *evs[0].ScanResult != testenv.EICARSignature {
				t.Errorf("file.scanned events of the infected file: %+v", evs)
			}
			if evs := e.scanEvents(clean.ID); len(evs) != 1 || evs[0].Status != "READY" {
				t.Errorf("file.scanned events of the clean file: %+v", evs)
			}
			checkUsage(t, e)
			e.reconcileClean()

			// clamd down: files wait, and nothing serves them.
			d.Stop()
			held := e.uploadScanned("held.txt", "text/plain", "", []byte("held until scanned"))
			avatar := []byte("\x89PNG\r\n\x1a\n not really")
			pub := e.uploadScanned("me.png", "image/png", "avatars", avatar)
			waitUntil(t, "a failed scan attempt", func() bool {
				js := e.jobsOf(held.FileName)
				return len(js) == 1 && js[0].Attempts >= 1 && js[0].LastError != ""
			})
			ge = e.fail("FILE_NOT_READY", downloadQ, map[string]any{"id": held.ID})
			if ge.Extensions["status"] != "SCANNING" {
				t.Errorf("FILE_NOT_READY extensions: %v", ge.Extensions)
			}
			if f := e.scanned(pub.ID); f.Status != "SCANNING" || f.URL != nil {
				t.Errorf("public file while clamd is down: %+v, want SCANNING without url", f)
			}
			// On S3 it waits under the private prefix (TestScanHoldsPublicFiles).
			publicURL := e.store.PublicURL(strings.TrimPrefix(pub.FileName, heldPrefix))
			if backend == "sqlite+disk" {
				if res := unsignedGet(t, publicURL); res.StatusCode != http.StatusNotFound {
					t.Errorf("GET of a public file not yet scanned: %d, want 404", res.StatusCode)
				}
			}
			if !strings.Contains(e.logs.String(), "jobs.failed") {
				t.Errorf("no jobs.failed in the log")
			}
			d.Start(t)
			// The retry waits its backoff on the server's clock.
			e.clock.advance(10 * time.Minute)
			e.waitStatus(held.ID, "READY")
			f = e.waitStatus(pub.ID, "READY")
			if f.URL == nil || *f.URL != publicURL {
				t.Errorf("public file once clean: url %v, want %s", f.URL, publicURL)
			}
			if backend == "sqlite+disk" {
				if res := unsignedGet(t, publicURL); res.StatusCode != http.StatusOK {
					t.Errorf("GET of a clean public file: %d", res.StatusCode)
				}
			}

			// Deleted while clamd holds its scan: the scan's verdict is
			// discarded, and nothing of the file is left.
			d.Pause()
			gone := e.uploadScanned("gone.txt", "text/plain", "", []byte(testenv.EICAR))
			waitUntil(t, "the scan to reach clamd", func() bool {
				return strings.Contains(e.logs.String(), "msg=scan.started file="+gone.ID)
			})
			e.do(deleteQ, map[string]any{"id": gone.ID}, nil)
			before := strings.Count(e.logs.String(), "scan.discarded")
			d.Resume()
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(e.logs.String()[max(0, len(e.logs.String())-6000):])
				}
			})
			waitUntil(t, "the scan's verdict to be discarded", func() bool {
				return strings.Count(e.logs.String(), "scan.discarded") > before
			})
			e.waitNoJobs()
			if evs := e.scanEvents(gone.ID); len(evs) != 0 {
				t.Errorf("file.scanned of a deleted file: %+v", evs)
			}
			if _, err := e.store.Stat(ctx, gone.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("object of the deleted file: %v", err)
			}
			checkUsage(t, e)
			e.reconcileClean()
		})
	}
}

// TestScanMaxSize: a file over SCAN_MAX_SIZE is UNSCANNED as it is saved
// (clamd is never asked: its address answers nothing), and downloadable
// only with SCAN_ALLOW_UNSCANNED.
func TestScanMaxSize(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := newEnv(t, "sqlite+disk", "SCAN_CLAMD_ADDR", "unix:/nonexistent/clamd.sock", "SCAN_MAX_SIZE", "1KiB",
			"SCAN_ALLOW_UNSCANNED", map[bool]string{false: "false", true: "true"}[allow])
		body := randomBytes(2048)
		f := e.uploadScanned("big.bin", "application/octet-stream", "", body)
		if f.Status != "UNSCANNED" {
			t.Fatalf("status %s, want UNSCANNED", f.Status)
		}
		if allow {
			if got := e.download(f.ID); !bytes.Equal(got, body) {
				t.Errorf("download of an unscanned file: %d bytes differ", len(got))
			}
			continue
		}
		ge := e.fail("FILE_NOT_READY", downloadQ, map[string]any{"id": f.ID})
		if ge.Extensions["status"] != "UNSCANNED" {
			t.Errorf("FILE_NOT_READY extensions: %v", ge.Extensions)
		}
		if n, _ := e.srv.db.Ent.Job.Query().Count(context.Background()); n != 0 {
			t.Errorf("%d jobs for an unscanned file", n)
		}
	}
}
