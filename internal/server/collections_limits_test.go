package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/storage"
)

// USER_QUOTA_BYTES and MAX_PENDING_UPLOADS are each user's across all
// collections: uploads pending in avatars and documents count against a
// third in default, and saved files in one collection count against the
// quota of another.
func TestCollectionsShareUserLimits(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend, "USER_QUOTA_BYTES", "3000", "MAX_PENDING_UPLOADS", "2")
			req := func(name, ct string, size int, coll string) map[string]any {
				return map[string]any{"originalName": name, "contentType": ct, "size": size, "collection": coll}
			}
			e.createUploads(req("me.png", "image/png", 1000, "avatars"), req("cv.pdf", "application/pdf", 1000, "documents"))
			err := e.fail("FORBIDDEN", createQ, map[string]any{"files": []any{req("x.txt", "text/plain", 1, "default")}})
			if err.Extensions["limit"] != "MAX_PENDING_UPLOADS" || !strings.Contains(err.Message, "1 over the limit of 2") {
				t.Errorf("pending across collections: %+v", err)
			}
			// Let the pending uploads go (the sweeper), then fill the quota
			// with saved files in two collections.
			e.clock.advance(2 * time.Hour)
			if _, err := e.srv.Files.Sweep(auth.WithUser(context.Background(), auth.LocalUser)); err != nil {
				t.Fatal(err)
			}
			u := e.createUploads(req("me.png", "image/png", 1000, "avatars"))[0]
			e.put(u, randomBytes(1000))
			e.do(saveQ, saveVars(u.FileName, "me.png"), nil)
			e.upload("notes.txt", "text/plain", randomBytes(1500))
			err = e.fail("FORBIDDEN", createQ, map[string]any{"files": []any{req("cv.pdf", "application/pdf", 600, "documents")}})
			if err.Extensions["limit"] != "USER_QUOTA_BYTES" || !strings.Contains(err.Message, "100 bytes over your quota of 3000 (2500 saved, 0 pending)") {
				t.Errorf("quota across collections: %+v", err)
			}
			e.createUploads(req("cv.pdf", "application/pdf", 500, "documents"))
			checkUsage(t, e)
		})
	}
}

// On S3, S3_PUBLIC_BASE_URL (a CDN in front of the bucket) is what a
// public file's URL starts with, whatever slashes it was given with; a
// private file still has none.
func TestPublicBaseURL(t *testing.T) {
	e := newCollectionsEnv(t, "postgres+s3", "S3_PUBLIC_BASE_URL", "https://cdn.example.test/assets//")
	u := e.createUploads(map[string]any{"originalName": "me.png", "size": 10, "contentType": "image/png", "collection": "avatars"})[0]
	e.put(u, randomBytes(10))
	var saved struct{ SaveFiles []savedInCollection }
	e.do(publicSaveQ, saveVars(u.FileName, "me.png"), &saved)
	if f := saved.SaveFiles[0]; f.URL == nil || *f.URL != "https://cdn.example.test/assets/"+u.FileName {
		t.Errorf("url %v, want https://cdn.example.test/assets/%s", deref(f.URL), u.FileName)
	}
	plain := e.upload("plain.txt", "text/plain", []byte("x"))
	var one struct{ Node struct{ URL *string } }
	e.do(`query($id: ID!) { node(id: $id) { ... on File { url } } }`, map[string]any{"id": plain.ID}, &one)
	if one.Node.URL != nil {
		t.Errorf("private file's url %q", *one.Node.URL)
	}
}

// A delete of a public file that died after marking the row is finished by
// the sweeper, as for a private one: its object under public/ goes, so its
// URL stops answering, and reconcile finds nothing to fix.
func TestSweepFinishesInterruptedPublicDelete(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend, "REQUEST_TIMEOUT", "5s")
			if backend == "postgres+s3" {
				applyREADMEPolicy(t, e.store.Bucket())
			}
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			u := e.createUploads(map[string]any{"originalName": "me.png", "size": 100, "contentType": "image/png", "collection": "avatars"})[0]
			e.put(u, randomBytes(100))
			var saved struct{ SaveFiles []savedInCollection }
			e.do(publicSaveQ, saveVars(u.FileName, "me.png"), &saved)
			f := saved.SaveFiles[0]
			tx, err := e.srv.db.Ent.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.File.UpdateOneID(uuid.MustParse(f.ID)).SetDeletedAt(e.clock.now()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE usages SET saved_count = saved_count - 1, saved_bytes = saved_bytes - 100 WHERE owner = $1", auth.LocalUser.ID); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			e.clock.advance(11 * time.Second)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Deletes != 1 {
				t.Fatalf("sweep: %+v, %v", r, err)
			}
			if _, err := e.store.Stat(ctx, u.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("public object after the sweep: %v", err)
			}
			if res := unsignedGet(t, *f.URL); res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
				t.Errorf("GET of the swept public file: %d", res.StatusCode)
			}
			if r, err := e.srv.Files.Reconcile(ctx, false); err != nil || r.Objects != 0 || r.Files != 0 || len(r.Orphans)+len(r.Missing) != 0 {
				t.Errorf("reconcile: %+v, %v", r, err)
			}
			checkUsage(t, e)
		})
	}
}

// Reconcile finds and removes an orphan under public/ (an object no row
// knows), and reports a public file whose object is gone.
func TestReconcilePublicPrefix(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend)
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			orphan := e.createUploads(map[string]any{"originalName": "o.png", "size": 10, "contentType": "image/png", "collection": "avatars"})[0]
			e.put(orphan, randomBytes(10))
			// The row is lost (with its count in the owner's usage), the
			// object stays.
			if _, err := e.srv.db.Ent.Upload.Delete().Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.db.SQL.ExecContext(ctx, "UPDATE usages SET pending_count = 0, pending_bytes = 0 WHERE owner = $1", auth.LocalUser.ID); err != nil {
				t.Fatal(err)
			}
			u := e.createUploads(map[string]any{"originalName": "gone.png", "size": 10, "contentType": "image/png", "collection": "avatars"})[0]
			e.put(u, randomBytes(10))
			e.do(saveQ, saveVars(u.FileName, "gone.png"), nil)
			if err := e.store.Delete(ctx, u.FileName); err != nil {
				t.Fatal(err)
			}
			r, err := e.srv.Files.Reconcile(ctx, true)
			if err != nil || !slices.Equal(r.Orphans, []string{orphan.FileName}) || len(r.Missing) != 1 || r.Missing[0].FileName != u.FileName {
				t.Fatalf("reconcile: %+v, %v", r, err)
			}
			if _, err := e.store.Stat(ctx, orphan.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("public orphan after reconcile: %v", err)
			}
			if r, err := e.srv.Files.Reconcile(ctx, false); err != nil || r.Objects+r.Files+len(r.Orphans)+len(r.Missing) != 0 {
				t.Errorf("second reconcile: %+v, %v", r, err)
			}
			checkUsage(t, e)
		})
	}
}

// Metadata pairs compose with the collection term: the same pairs in two
// collections, and the filter takes only the one asked for.
func TestMetadataFilterWithCollection(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend)
			meta := map[string]any{"post": "42", "kind": "cover"}
			e.uploadAttrs("doc.txt", map[string]any{"collection": "documents", "metadata": meta})
			e.uploadAttrs("other.txt", map[string]any{"collection": "documents", "metadata": map[string]any{"post": "43", "kind": "cover"}})
			e.uploadAttrs("plain.txt", map[string]any{"metadata": meta})
			pair := func(k, v string) map[string]any { return map[string]any{"key": k, "value": v} }
			for _, tt := range []struct {
				where map[string]any
				want  []string
			}{
				{map[string]any{"collection": "documents", "metadata": []any{pair("post", "42"), pair("kind", "cover")}}, []string{"doc.txt"}},
				{map[string]any{"collection": "default", "metadata": []any{pair("post", "42")}}, []string{"plain.txt"}},
				{map[string]any{"metadata": []any{pair("kind", "cover")}}, []string{"doc.txt", "other.txt", "plain.txt"}},
				{map[string]any{"collection": "avatars", "metadata": []any{pair("post", "42")}}, []string{}},
				{map[string]any{"collectionNEQ": "documents", "metadata": []any{pair("kind", "cover")}}, []string{"plain.txt"}},
			} {
				if got := e.listAttrs(tt.where); !slices.Equal(got, tt.want) {
					t.Errorf("where %v: listed %v, want %v", tt.where, got, tt.want)
				}
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// The server's own S3 wiring (not a store a test built) takes
// S3_PUBLIC_BASE_URL, and without it the bucket's own URL.
func TestOpenStorePublicBaseURL(t *testing.T) {
	bucket, err := s3srv.NewBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3srv.SecretKey)
	for _, tt := range []struct{ base, want string }{
		{"https://cdn.example.test/a/", "https://cdn.example.test/a/public/x/k.png"},
		{"", s3srv.Endpoint + "/" + bucket + "/public/x/k.png"},
	} {
		vars := map[string]string{"S3_BUCKET": bucket, "S3_ENDPOINT": s3srv.Endpoint, "S3_FORCE_PATH_STYLE": "true",
			"S3_REGION": s3srv.Region, "S3_PUBLIC_BASE_URL": tt.base, "DATA_DIR": t.TempDir()}
		cfg, err := config.Load(func(k string) string { return vars[k] })
		if err != nil {
			t.Fatal(err)
		}
		s, err := openStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.PublicURL("public/x/k.png"); got != tt.want {
			t.Errorf("S3_PUBLIC_BASE_URL=%q: %q, want %q", tt.base, got, tt.want)
		}
	}
}
