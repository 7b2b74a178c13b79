package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

// heldPrefix is where S3 keeps a public collection's files until clean.
const heldPrefix = "files/held/"

// TestScanHoldsPublicFiles: with scanning on, a public collection's file
// is readable at its public URL only once clamd found it clean. On S3,
// whose bucket policy serves public/* to anyone, its upload goes to a key
// under the private prefix and is copied to its public key when clean
// (nothing is at the public key before; the held object is gone after);
// EICAR never reaches its public key. On disk the public key is served by
// the server, which answers 404 until READY. Both of a file's keys are
// known to reconcile and removed by its delete, and the states a kill
// between the copy and the held object's delete leaves converge.
func TestScanHoldsPublicFiles(t *testing.T) {
	d := testenv.StartClamd(t)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			onS3 := backend == "postgres+s3"
			coll := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(coll, []byte(collectionsFile), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, "SCAN_CLAMD_ADDR", d.Addr, "COLLECTIONS_FILE", coll)
			if onS3 {
				applyREADMEPolicy(t, e.store.Bucket())
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(e.logs.String()[max(0, len(e.logs.String())-6000):])
				}
			})
			ctx := context.Background()
			exists := func(key string) bool {
				t.Helper()
				_, err := e.store.Stat(ctx, key)
				if err != nil && !errors.Is(err, storage.ErrNotExist) {
					t.Fatalf("stat %s: %v", key, err)
				}
				return err == nil
			}
			// publicKey is the key a public file is served at.
			publicKey := func(f scannedFile) string {
				if onS3 {
					if !strings.HasPrefix(f.FileName, heldPrefix+"public/avatars/") {
						t.Fatalf("a public file on S3 saved while scanning as %s, want it under %s", f.FileName, heldPrefix)
					}
					return strings.TrimPrefix(f.FileName, heldPrefix)
				}
				return f.FileName
			}
			// notServed: nothing reads the public key without a signature.
			notServed := func(key, what string) {
				t.Helper()
				res := unsignedGet(t, e.store.PublicURL(key))
				if res.StatusCode == http.StatusOK {
					t.Errorf("%s: GET of its public URL answered 200", what)
				}
				if onS3 && exists(key) {
					t.Errorf("%s: an object is at its public key %s", what, key)
				}
			}

			// clamd down: both wait, and neither is at its public key.
			d.Stop()
			clean := randomBytes(900)
			pub := e.uploadScanned("me.png", "image/png", "avatars", clean)
			bad := e.uploadScanned("eicar.png", "image/png", "avatars", []byte(testenv.EICAR))
			pubKey, badKey := publicKey(pub), publicKey(bad)
			for _, f := range []scannedFile{pub, bad} {
				if f.Status != "SCANNING" || f.URL != nil {
					t.Errorf("saved while clamd is down: %+v, want SCANNING without url", f)
				}
			}
			notServed(pubKey, "a public file being scanned")
			notServed(badKey, "EICAR being scanned")

			// A retry of the save, by the key it was issued, answers the
			// same file, before and after its release.
			retry := func() scannedFile {
				var out struct{ SaveFiles []scannedFile }
				e.do(scanSaveQ, map[string]any{"files": []map[string]any{{"fileName": pub.FileName, "originalName": "me.png"}}}, &out)
				return out.SaveFiles[0]
			}
			if got := retry(); got.ID != pub.ID {
				t.Errorf("a retried save answered %+v, want %s", got, pub.ID)
			}

			d.Start(t)
			e.clock.advance(10 * time.Minute) // past the failed attempts' backoff
			f := e.waitStatus(pub.ID, "READY")
			if f.FileName != pubKey || f.URL == nil || *f.URL != e.store.PublicURL(pubKey) {
				t.Errorf("clean public file: %+v, want fileName %s and its public URL", f, pubKey)
			}
			res := unsignedGet(t, e.store.PublicURL(pubKey))
			got, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !bytes.Equal(got, clean) {
				t.Errorf("GET of the clean file's public URL: %d, %d bytes (want 200 and the %d uploaded)", res.StatusCode, len(got), len(clean))
			}
			if onS3 && exists(pub.FileName) {
				t.Errorf("the held object %s is left after its release", pub.FileName)
			}
			if got := retry(); got.ID != pub.ID || got.FileName != pubKey {
				t.Errorf("a save retried after the release answered %+v", got)
			}
			if evs := e.scanEvents(pub.ID); len(evs) != 1 || evs[0].FileName != pubKey {
				t.Errorf("file.scanned of the clean file: %+v, want one naming %s", evs, pubKey)
			}

			b := e.waitStatus(bad.ID, "INFECTED")
			if b.URL != nil || exists(bad.FileName) {
				t.Errorf("EICAR: %+v, object left %v", b, exists(bad.FileName))
			}
			notServed(badKey, "EICAR found")
			// A job ends once its file holds no more than it owns.
			e.waitNoJobs()
			checkUsage(t, e)
			e.reconcileClean()

			if !onS3 {
				return // disk holds nothing: what follows is the copy's
			}

			// Killed after the copy, before the release was recorded: the
			// public copy is known (the job runs again), and a delete
			// then removes both.
			d.Stop()
			a := e.uploadScanned("a.png", "image/png", "avatars", randomBytes(500))
			copier := e.store.(storage.Copier)
			if err := copier.Copy(ctx, a.FileName, publicKey(a)); err != nil {
				t.Fatal(err)
			}
			e.reconcileClean()
			e.do(deleteQ, map[string]any{"id": a.ID}, nil)
			if exists(a.FileName) || exists(publicKey(a)) {
				t.Errorf("a deleted held file left objects: held %v, public %v", exists(a.FileName), exists(publicKey(a)))
			}

			// The same, then the scan runs again: copied again, released,
			// the held object deleted.
			c := e.uploadScanned("c.png", "image/png", "avatars", randomBytes(500))
			if err := copier.Copy(ctx, c.FileName, publicKey(c)); err != nil {
				t.Fatal(err)
			}
			d.Start(t)
			e.clock.advance(20 * time.Minute)
			e.waitStatus(c.ID, "READY")
			e.waitNoJobs()
			if exists(c.FileName) || !exists(publicKey(c)) {
				t.Errorf("after the scan ran again: held %v (want gone), public %v", exists(c.FileName), exists(publicKey(c)))
			}

			// Killed after the release was recorded, before the held
			// object was deleted: its job runs again and deletes it.
			storagetest.Upload(t, e.store, c.FileName, "image/png", randomBytes(500))
			if err := e.srv.db.Ent.Job.Create().SetFileID(uuid.MustParse(c.ID)).SetKind(job.KindScan).
				SetNextAttemptAt(time.Unix(0, 0)).SetCreatedAt(time.Now()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			e.reconcileClean()
			e.waitNoJobs()
			if exists(c.FileName) {
				t.Errorf("the job ended, the held object is left")
			}
			if !exists(publicKey(c)) {
				t.Errorf("the released object went too")
			}
			// Left without a job, a held object is an orphan.
			storagetest.Upload(t, e.store, c.FileName, "image/png", randomBytes(500))
			r, err := e.srv.Files.Reconcile(auth.WithUser(ctx, auth.LocalUser), false)
			if err != nil || len(r.Orphans) != 1 || r.Orphans[0] != c.FileName {
				t.Errorf("reconcile of a held object left without a job: %+v, %v", r, err)
			}
			e.do(deleteQ, map[string]any{"id": c.ID}, nil)
			if exists(c.FileName) || exists(publicKey(c)) {
				t.Errorf("a deleted released file left objects")
			}
			checkUsage(t, e)
			e.reconcileClean()
		})
	}
}

// waitNoJobs waits until no job is left.
func (e *env) waitNoJobs() {
	e.t.Helper()
	waitUntil(e.t, "no job left", func() bool {
		n, err := e.srv.db.Ent.Job.Query().Count(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		return n == 0
	})
}
