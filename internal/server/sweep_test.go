package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// Uploads never saved are swept once their save window has passed, objects
// and all; saved files are untouched; replicas sweeping together agree.
func TestSweepExpiredUploads(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "UPLOAD_URL_TTL", "1m", "UPLOAD_SAVE_WINDOW", "10m", "USER_QUOTA_BYTES", "100")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			kept := e.upload("kept.txt", "text/plain", []byte("kept"))
			uploaded := e.createUploads(map[string]any{"originalName": "up.txt", "size": 2})[0]
			e.put(uploaded, []byte("up"))
			var never []uploadURL
			for range 5 {
				never = append(never, e.createUploads(map[string]any{"originalName": "never.txt", "size": 10})[0])
			}

			// Past the URL, inside the save window: still saveable, not swept.
			e.clock.advance(5 * time.Minute)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 0 {
				t.Fatalf("sweep inside the window: %+v, %v", r, err)
			}
			// Past the window: refused, then swept by two replicas at once.
			e.clock.advance(10 * time.Minute)
			err := e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{{"fileName": uploaded.FileName, "originalName": "up.txt"}}})
			if !strings.Contains(err.Message, "expired") {
				t.Errorf("late save: %q", err.Message)
			}
			e.clock.advance(time.Minute) // and the clock-skew margin
			var wg sync.WaitGroup
			var mu sync.Mutex
			swept := 0
			for range 2 {
				wg.Go(func() {
					r, err := e.srv.Files.Sweep(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					swept += r.Uploads
					mu.Unlock()
				})
			}
			wg.Wait()
			// Exactly: a replica counting what the other swept would
			// show as more.
			if swept != 6 {
				t.Errorf("two replicas swept %d uploads together, want exactly 6", swept)
			}
			if n, err := e.srv.db.Ent.Upload.Query().Count(ctx); err != nil || n != 0 {
				t.Errorf("%d uploads left, %v", n, err)
			}
			if _, err := e.store.Stat(ctx, uploaded.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("uploaded object of an expired upload: %v", err)
			}
			if _, err := e.store.Stat(ctx, kept.FileName); err != nil {
				t.Errorf("saved file's object: %v", err)
			}
			// Expired uploads no longer count against the quota: 4 + 96 fits.
			e.createUploads(map[string]any{"originalName": "fits.txt", "size": 96})
			checkUsage(t, e)
		})
	}
}

// A delete interrupted after marking the row (the process died) is
// finished by the sweeper once the delete grace has passed; until then the
// file is not listed.
func TestSweepFinishesInterruptedDelete(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "REQUEST_TIMEOUT", "5s")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			f := e.upload("doomed.txt", "text/plain", []byte("doomed"))
			other := e.upload("other.txt", "text/plain", []byte("other"))
			id := uuid.MustParse(f.ID)
			// What Delete does first (mark the row, take it out of the
			// owner's usage, in one transaction), and then the process died.
			tx, err := e.srv.db.Ent.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.File.UpdateOneID(id).SetDeletedAt(e.clock.now()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE usages SET saved_count = saved_count - 1, saved_bytes = saved_bytes - $1 WHERE owner = $2", f.Size, auth.LocalUser.ID); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var c connection
			e.do(listQ, nil, &c)
			if c.Files.TotalCount != 1 || c.names()[0] != "other.txt" {
				t.Errorf("listed while being deleted: %v", c.names())
			}
			e.fail("NOT_FOUND", downloadQ, map[string]any{"id": f.ID})
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Deletes != 0 {
				t.Fatalf("sweep within the grace: %+v, %v", r, err)
			}
			e.clock.advance(11 * time.Second) // grace: twice REQUEST_TIMEOUT
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Deletes != 1 {
				t.Fatalf("sweep after the grace: %+v, %v", r, err)
			}
			if _, err := e.store.Stat(ctx, f.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("object after sweep: %v", err)
			}
			if n := e.srv.db.Ent.File.Query().CountX(ctx); n != 1 {
				t.Errorf("%d rows, want 1", n)
			}
			if _, err := e.store.Stat(ctx, other.FileName); err != nil {
				t.Errorf("other file's object: %v", err)
			}
			checkUsage(t, e)
		})
	}
}
