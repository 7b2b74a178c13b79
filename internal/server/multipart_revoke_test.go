package server

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// Part URLs stop working once their upload is saved or aborted (both
// backends: the upload in parts is gone from the store), and on disk also
// once it has expired; a replayed part changes nothing. An aborted single
// PUT's URL replayed on S3 puts an object back that the sweeper deletes
// once the URL is spent (a tombstone).
func TestPartURLsRevoked(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB", "MULTIPART_UPLOAD_WINDOW", "1h", "UPLOAD_URL_TTL", "2m", "UPLOAD_SAVE_WINDOW", "10m")
			ctx := context.Background()
			body := randomBytes(100)

			saved := e.createMultipart(map[string]any{"originalName": "saved.bin", "size": len(body)})[0]
			urls := e.partURLs(saved, body, false, 1)
			e.putParts(saved, body, false, 1)
			var s struct{ SaveFiles []fileNode }
			e.do(saveQ, saveVars(saved.FileName, "saved.bin"), &s)
			if err := storagetest.SendErr(urls[0].request(), randomBytes(100)); err == nil {
				t.Error("a part PUT after the save was taken")
			}
			if got := e.download(s.SaveFiles[0].ID); !bytes.Equal(got, body) {
				t.Error("a replayed part changed the saved file")
			}

			aborted := e.createMultipart(map[string]any{"originalName": "aborted.bin", "size": len(body)})[0]
			urls = e.partURLs(aborted, body, false, 1)
			e.do(abortQ, map[string]any{"fileName": aborted.FileName}, nil)
			if err := storagetest.SendErr(urls[0].request(), body); err == nil {
				t.Error("a part PUT after abort was taken")
			}

			if backend == "sqlite+disk" {
				expired := e.createMultipart(map[string]any{"originalName": "late.bin", "size": len(body)})[0]
				urls = e.partURLs(expired, body, false, 1)
				e.clock.advance(time.Hour + time.Second)
				err := storagetest.SendErr(urls[0].request(), body)
				if err == nil || !strings.Contains(err.Error(), "403") {
					t.Errorf("a part PUT after the upload expired: %v, want 403", err)
				}
				return
			}

			// S3: an aborted single PUT's URL replayed puts the object back;
			// once the URL is spent the sweeper deletes it.
			single := e.createUploads(map[string]any{"originalName": "s.txt", "size": 4})[0]
			e.do(abortQ, map[string]any{"fileName": single.FileName}, nil)
			e.put(single, []byte("back"))
			e.clock.advance(2*time.Minute + 10*time.Minute + time.Minute + time.Second)
			if _, err := e.srv.Files.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.Stat(ctx, single.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("the replayed object of an aborted upload survived the sweep: %v", err)
			}
		})
	}
}
