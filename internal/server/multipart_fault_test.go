package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/storage"
)

// completeHook runs around the store's CompleteMultipart; everything else
// goes straight to the real store.
type completeHook struct {
	storage.Store
	before func()
	after  func(error) error
}

func (h completeHook) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) error {
	h.before()
	return h.after(h.Store.CompleteMultipart(ctx, key, uploadID, parts))
}

// TestStorageDownDuringCompletion: saving an upload in parts while the
// storage goes away, whether the completion request never arrived or its
// answer was lost, is UNAVAILABLE and saves nothing; once the storage is
// back the same save finishes, and the file downloads whole.
func TestStorageDownDuringCompletion(t *testing.T) {
	for _, c := range []struct {
		name          string
		before        func(e *env)
		after         func(e *env, err error) error
		wantCompleted bool
	}{
		{"RequestLost", func(e *env) { e.s3Proxy.SetDown(true) }, func(_ *env, err error) error { return err }, false},
		{"AnswerLost", func(*env) {}, func(e *env, err error) error {
			if err != nil {
				return err
			}
			e.s3Proxy.SetDown(true)
			return fmt.Errorf("reading the answer: %w", storage.ErrUnavailable)
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFaultyEnv(t, "PART_SIZE", "5MiB")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			body := randomBytes(5*mib + 99)
			m := e.createMultipart(map[string]any{"originalName": "big.bin", "size": len(body)})[0]
			e.putParts(m, body, false, 1, 2)

			svc := files.New(e.srv.db.Ent, e.srv.db.Usages, completeHook{
				Store:  e.store,
				before: func() { c.before(e) },
				after:  func(err error) error { return c.after(e, err) },
			}, files.Options{UploadURLTTL: time.Minute, MaxUploadSize: 1 << 30, PartSize: 5 * mib, MultipartWindow: time.Hour, SaveWindow: time.Hour, Now: e.clock.now},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			save := []*files.SaveRequest{{FileName: m.FileName, OriginalName: "big.bin"}}
			if _, err := svc.Save(ctx, save); !errors.Is(err, files.ErrUnavailable) {
				t.Fatalf("save with storage going down: %v, want ErrUnavailable", err)
			}
			e.s3Proxy.SetDown(false)
			_, err := e.store.Stat(ctx, m.FileName)
			if completed := err == nil; completed != c.wantCompleted {
				t.Errorf("object completed in the store: %v, want %v", completed, c.wantCompleted)
			}
			var list connection
			e.do(listQ, nil, &list)
			if list.Files.TotalCount != 0 {
				t.Fatalf("a failed save saved %d files", list.Files.TotalCount)
			}
			var p struct{ Upload *pendingUpload }
			e.do(uploadQ, map[string]any{"fileName": m.FileName}, &p)
			if p.Upload == nil || len(p.Upload.UploadedParts) != 2 {
				t.Fatalf("after the failed save the upload reads %+v, want it pending with both parts", p.Upload)
			}

			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, saveVars(m.FileName, "big.bin"), &saved)
			if got := e.download(saved.SaveFiles[0].ID); !bytes.Equal(got, body) {
				t.Errorf("the file downloads as %d bytes that differ from the %d uploaded", len(got), len(body))
			}
		})
	}
}

// TestCORSForParts: a browser on an allowed origin may PUT parts straight
// to the storage, with their checksums: the preflight of a part URL is
// answered on both backends (S3 with the rule S3_SET_BUCKET_CORS puts).
func TestCORSForParts(t *testing.T) {
	const origin = "https://app.example"
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "CORS_ALLOWED_ORIGINS", origin, "PART_SIZE", "5MiB")
			if s3, ok := e.store.(interface {
				SetCORS(context.Context, []string) error
			}); ok {
				if err := s3.SetCORS(context.Background(), []string{origin}); err != nil {
					t.Fatal(err)
				}
			}
			body := randomBytes(100)
			m := e.createMultipart(map[string]any{"originalName": "a.bin", "size": len(body), "partChecksums": true})[0]
			u := e.partURLs(m, body, true, 1)[0]
			var names []string
			for _, h := range u.Headers {
				if !strings.EqualFold(h.Name, "Content-Length") {
					names = append(names, strings.ToLower(h.Name))
				}
			}
			req, _ := http.NewRequest(http.MethodOptions, u.URL, nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			req.Header.Set("Access-Control-Request-Headers", strings.Join(names, ","))
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
			if res.StatusCode >= 300 || res.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(allowed, "x-amz-checksum-sha256") {
				t.Errorf("preflight of a part PUT (headers %v): status %d, allow-origin %q, allow-headers %q",
					names, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), allowed)
			}
		})
	}
}

// TestConcurrentMultipartSaves: eight saves of one upload in parts at once
// all return the one saved file, and the store assembles the object once:
// the others wait for that completion and find it done. Before, each save
// completed the upload itself (on disk, each copying the whole object) and
// most were refused with "had a part replaced while saving".
func TestConcurrentMultipartSaves(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			body := randomBytes(2*5*mib + 1000)
			m := e.createMultipart(map[string]any{"originalName": "big.bin", "size": len(body)})[0]
			e.putParts(m, body, false, all(m.PartCount)...)

			var completions atomic.Int32
			svc := files.New(e.srv.db.Ent, e.srv.db.Usages, completeHook{
				Store:  e.store,
				before: func() { completions.Add(1) },
				after:  func(err error) error { return err },
			}, files.Options{UploadURLTTL: time.Minute, MaxUploadSize: 1 << 30, PartSize: 5 * mib, MultipartWindow: time.Hour, SaveWindow: time.Hour, Now: e.clock.now},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			const saves = 8
			ids := make(chan string, saves)
			start := make(chan struct{})
			for range saves {
				go func() {
					<-start
					ctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					saved, err := svc.Save(ctx, []*files.SaveRequest{{FileName: m.FileName, OriginalName: "big.bin"}})
					if err != nil {
						ids <- "error: " + err.Error()
						return
					}
					ids <- saved[0].ID.String()
				}()
			}
			close(start)
			first := <-ids
			if strings.HasPrefix(first, "error: ") {
				t.Errorf("a concurrent save failed: %s", first)
			}
			for range saves - 1 {
				if id := <-ids; id != first {
					t.Errorf("concurrent saves returned %q and %q", first, id)
				}
			}
			if n := completions.Load(); n != 1 {
				t.Errorf("the store was asked to complete the upload %d times, want once", n)
			}
			if got := e.download(first); !bytes.Equal(got, body) {
				t.Errorf("the file downloads as %d bytes that differ from the %d uploaded", len(got), len(body))
			}
			checkUsage(t, e)
		})
	}
}

// listPartsHook runs after the store's ListParts; everything else goes
// straight to the real store.
type listPartsHook struct {
	storage.Store
	after func()
}

func (h listPartsHook) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	parts, err := h.Store.ListParts(ctx, key, uploadID)
	h.after()
	return parts, err
}

// TestUploadedPartsOfCompletedUploadWhileStorageDown: an upload in parts
// that the store completed but that was not saved (the completion's answer
// was lost) has all its parts; should the storage go away as uploadedParts
// looks at its object, the answer is UNAVAILABLE, not "no parts", which
// would send the client to upload them all again into a completed upload.
func TestUploadedPartsOfCompletedUploadWhileStorageDown(t *testing.T) {
	e := newFaultyEnv(t, "PART_SIZE", "5MiB")
	ctx := auth.WithUser(context.Background(), auth.LocalUser)
	body := randomBytes(5*mib + 99)
	m := e.createMultipart(map[string]any{"originalName": "big.bin", "size": len(body)})[0]
	e.putParts(m, body, false, 1, 2)
	opts := files.Options{UploadURLTTL: time.Minute, MaxUploadSize: 1 << 30, PartSize: 5 * mib, MultipartWindow: time.Hour, SaveWindow: time.Hour, Now: e.clock.now}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))

	answerLost := files.New(e.srv.db.Ent, e.srv.db.Usages, completeHook{
		Store:  e.store,
		before: func() {},
		after: func(err error) error {
			if err != nil {
				return err
			}
			return fmt.Errorf("reading the answer: %w", storage.ErrUnavailable)
		},
	}, opts, discard)
	if _, err := answerLost.Save(ctx, []*files.SaveRequest{{FileName: m.FileName, OriginalName: "big.bin"}}); !errors.Is(err, files.ErrUnavailable) {
		t.Fatalf("save whose completion answer is lost: %v, want ErrUnavailable", err)
	}

	var down atomic.Bool
	svc := files.New(e.srv.db.Ent, e.srv.db.Usages, listPartsHook{Store: e.store, after: func() {
		if down.Load() {
			e.s3Proxy.SetDown(true)
		}
	}}, opts, discard)
	p, err := svc.Upload(ctx, m.FileName)
	if err != nil || p == nil {
		t.Fatalf("the completed, unsaved upload: %v, %v; want it pending", p, err)
	}
	down.Store(true)
	parts, err := svc.UploadedParts(ctx, p)
	if !errors.Is(err, files.ErrUnavailable) {
		t.Errorf("uploaded parts with the storage gone after the listing: %d parts, %v; want ErrUnavailable", len(parts), err)
	}
	down.Store(false)
	e.s3Proxy.SetDown(false)
	parts, err = svc.UploadedParts(ctx, p)
	if err != nil || len(parts) != 2 || parts[0].Size != 5*mib || parts[1].Size != 99 {
		t.Errorf("uploaded parts with the storage back: %v, %v; want parts of %d and 99 bytes", parts, err, 5*mib)
	}
}
