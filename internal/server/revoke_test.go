package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
)

// sendPut PUTs body to an issued URL as a stream of size bytes.
func sendPut(u uploadURL, body io.Reader, size int64) (int, error) {
	r, err := http.NewRequest(u.Method, u.URL, body)
	if err != nil {
		return 0, err
	}
	r.ContentLength = size
	for _, h := range u.Headers {
		if !strings.EqualFold(h.Name, "Content-Length") {
			r.Header.Set(h.Name, h.Value)
		}
	}
	res, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// No object outlives its purpose: an upload URL replayed after its file was
// saved and deleted, or a PUT trickled past the sweep of its upload, leaves
// nothing in storage once the sweeper has run, and reconcile finds storage
// and rows agreeing. Disk storage refuses such PUTs outright (403); S3
// cannot revoke its URLs, so the sweeper deletes what they wrote once they
// can no longer write (tombstones).
// Before, 20 replays under a 10 KiB quota stored 100 KB no row knew of.
func TestUploadURLsOutliveNothing(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "UPLOAD_URL_TTL", "2m", "UPLOAD_SAVE_WINDOW", "10m", "USER_QUOTA_BYTES", "10KiB")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			body := []byte(strings.Repeat("x", 5000))
			disk := backend == "sqlite+disk"
			replayOK := func(code int) bool {
				if disk {
					return code == http.StatusForbidden
				}
				// The first replay writes, the others find its object.
				return code == http.StatusOK || code == http.StatusPreconditionFailed
			}

			// Saved, then deleted, then the URL replayed 20 times.
			u := e.createUploads(map[string]any{"originalName": "a.txt", "size": len(body)})[0]
			e.put(u, body)
			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "a.txt"}}}, &saved)
			e.do(deleteQ, map[string]any{"id": saved.SaveFiles[0].ID}, nil)
			for range 20 {
				code, err := sendPut(u, strings.NewReader(string(body)), int64(len(body)))
				if err != nil {
					t.Fatal(err)
				}
				if !replayOK(code) {
					t.Fatalf("replayed PUT after delete: %d", code)
				}
			}

			// A PUT begun in time and trickled past the sweep of its upload.
			slow := e.createUploads(map[string]any{"originalName": "slow.txt", "size": len(body)})[0]
			pr, pw := io.Pipe()
			// Closed however the test ends: a PUT left waiting for its body
			// would hold the server's Close, and the package, until go
			// test's timeout.
			defer pw.CloseWithError(errors.New("test over"))
			type answer struct {
				code int
				err  error
			}
			done := make(chan answer, 1)
			go func() {
				code, err := sendPut(slow, pr, int64(len(body)))
				done <- answer{code, err}
			}()
			pw.Write(body[:10])
			e.clock.advance(2*time.Minute + 10*time.Minute + time.Minute + time.Second)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 1 {
				t.Fatalf("sweep: %+v, %v", r, err)
			}
			pw.Write(body[10:])
			pw.Close()
			if a := <-done; a.err != nil || !replayOK(a.code) {
				t.Errorf("trickled PUT after the sweep: %d, %v", a.code, a.err)
			}
			// Once no URL can write, the sweeper deletes again.
			e.clock.advance(2*time.Minute + 10*time.Minute + time.Minute + time.Second)
			r, err := e.srv.Files.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if disk && r.Tombstones != 0 || !disk && r.Tombstones == 0 {
				t.Errorf("sweep: %+v", r)
			}
			if n, err := e.srv.db.Ent.Tombstone.Query().Count(ctx); err != nil || n != 0 {
				t.Errorf("%d tombstones left, %v", n, err)
			}

			rec, err := e.srv.Files.Reconcile(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Orphans) != 0 || len(rec.Missing) != 0 || rec.Objects != 0 || rec.Files != 0 {
				t.Errorf("reconcile: %d objects, %d files, orphans %v, missing %v", rec.Objects, rec.Files, rec.Orphans, rec.Missing)
			}
		})
	}
}
