package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

const collectionsFile = `
collections:
  avatars:
    allowedContentTypes: [image/png, image/webp]
    maxFileSize: 1KiB
    maxFilesPerRequest: 1
    public: true
  documents:
    allowedContentTypes: [application/pdf, "text/*"]
`

const (
	collectionsQ = `{ collections { name allowedContentTypes maxFileSize maxFilesPerRequest public } }`
	publicSaveQ  = `mutation($files: [SaveFileInput!]!) { saveFiles(files: $files) { id fileName collection url } }`
)

type collectionNode struct {
	Name                string
	AllowedContentTypes []string
	MaxFileSize         int64
	MaxFilesPerRequest  *int
	Public              bool
}

type savedInCollection struct {
	ID, FileName, Collection string
	URL                      *string
}

// newCollectionsEnv starts a server on backend with collectionsFile.
func newCollectionsEnv(t *testing.T, backend string, settings ...string) *env {
	t.Helper()
	p := filepath.Join(t.TempDir(), "collections.yaml")
	if err := os.WriteFile(p, []byte(collectionsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	return newEnv(t, backend, append([]string{"COLLECTIONS_FILE", p, "MAX_UPLOAD_SIZE", "10MiB", "ALLOWED_CONTENT_TYPES", "image/*,application/pdf,text/*"}, settings...)...)
}

// The collections query lists default (the global settings) first, then
// the file's, with what they leave out filled in.
func TestCollectionsQuery(t *testing.T) {
	e := newCollectionsEnv(t, "sqlite+disk")
	var out struct{ Collections []collectionNode }
	e.do(collectionsQ, nil, &out)
	got := fmt.Sprintf("%+v", out.Collections)
	one := 1
	want := fmt.Sprintf("%+v", []collectionNode{
		{"default", []string{"image/*", "application/pdf", "text/*"}, 10 << 20, nil, false},
		{"avatars", []string{"image/png", "image/webp"}, 1 << 10, &one, true},
		{"documents", []string{"application/pdf", "text/*"}, 10 << 20, nil, false},
	})
	// Pointers print as addresses: compare the one that is set by value.
	if len(out.Collections) != 3 || out.Collections[1].MaxFilesPerRequest == nil || *out.Collections[1].MaxFilesPerRequest != 1 {
		t.Fatalf("collections: %s", got)
	}
	out.Collections[1].MaxFilesPerRequest = &one
	if got = fmt.Sprintf("%+v", out.Collections); got != want {
		t.Errorf("collections:\n got %s\nwant %s", got, want)
	}
}

// Each rule of a collection refuses with BAD_USER_INPUT, a message naming
// the file, the rule and the collection, and the problem's rule and
// collection in extensions; nothing is issued.
func TestCollectionRulesRefuse(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend)
			png := func(name string, size int) map[string]any {
				return map[string]any{"originalName": name, "size": size, "contentType": "image/png", "collection": "avatars"}
			}
			for _, tt := range []struct {
				query             string
				files             []map[string]any
				field, rule, coll string
				message           string
			}{
				{createQ, []map[string]any{{"originalName": "x.png", "size": 1, "contentType": "image/png", "collection": "photos"}},
					"files[0].collection", "collection", "photos", `"x.png" names collection "photos", which does not exist; the collections are default, avatars, documents`},
				{createQ, []map[string]any{png("me.png", 1025)},
					"files[0].size", "maxFileSize", "avatars", `"me.png" is 1025 bytes, over the maxFileSize of collection "avatars" (1024 bytes) by 1`},
				{createQ, []map[string]any{{"originalName": "me.jpg", "size": 10, "contentType": "image/jpeg", "collection": "avatars"}},
					"files[0].contentType", "allowedContentTypes", "avatars", `"me.jpg" is image/jpeg, which collection "avatars" does not allow (allowedContentTypes: image/png, image/webp)`},
				{createQ, []map[string]any{png("a.png", 1), png("b.png", 1)},
					"files", "maxFilesPerRequest", "avatars", `2 files are in collection "avatars", which takes at most 1 in one request`},
				{createQ, []map[string]any{{"originalName": "cat.png", "size": 10, "contentType": "image/png", "collection": "documents"}},
					"files[0].contentType", "allowedContentTypes", "documents", `"cat.png" is image/png, which collection "documents" does not allow (allowedContentTypes: application/pdf, text/*)`},
				// Uploads in parts are held to the same rules.
				{createMPQ, []map[string]any{{"originalName": "big.png", "size": 6 * mib, "contentType": "image/png", "collection": "avatars"}},
					"files[0].size", "maxFileSize", "avatars", `"big.png" is 6291456 bytes, over the maxFileSize of collection "avatars" (1024 bytes) by 6290432`},
			} {
				err := e.fail("BAD_USER_INPUT", tt.query, map[string]any{"files": tt.files})
				if err.Message != tt.field+": "+tt.message {
					t.Errorf("message %q\nwant %q", err.Message, tt.field+": "+tt.message)
				}
				ps, _ := err.Extensions["problems"].([]any)
				if len(ps) != 1 {
					t.Errorf("problems %v", err.Extensions["problems"])
					continue
				}
				p, _ := ps[0].(map[string]any)
				if p["field"] != tt.field || p["rule"] != tt.rule || p["collection"] != tt.coll || p["message"] != tt.message {
					t.Errorf("problem %v, want field %s rule %s collection %s", p, tt.field, tt.rule, tt.coll)
				}
			}
			var pending pendingConnection
			e.do(`{ uploads { totalCount } }`, nil, &pending)
			if pending.Uploads.TotalCount != 0 {
				t.Errorf("%d uploads issued by refused requests", pending.Uploads.TotalCount)
			}
		})
	}
}

var (
	publicKey  = regexp.MustCompile(`^public/avatars/[0-9a-f]{32}\.png$`)
	privateKey = regexp.MustCompile(`^files/[0-9a-f]{32}\.pdf$`)
)

// A public collection's file is stored under public/avatars/, has a stable
// URL anyone can read with no signature (disk: served with the headers the
// README promises; S3: through the README's bucket policy, which keeps
// private keys unreadable), still downloads through fileDownloadUrl, and
// is gone from its URL once deleted. A private collection's file has none.
// Pending uploads and files say their collection, and filter on it.
func TestPublicFiles(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend)
			if backend == "postgres+s3" {
				applyREADMEPolicy(t, e.store.Bucket())
			}
			avatar := randomBytes(1000)
			u := e.createUploads(map[string]any{"originalName": "Me.PNG", "size": len(avatar), "contentType": "image/png", "collection": "avatars"})[0]
			if !publicKey.MatchString(u.FileName) {
				t.Fatalf("public key %q", u.FileName)
			}
			var pending struct{ Upload struct{ Collection string } }
			e.do(`query($f: String!) { upload(fileName: $f) { collection } }`, map[string]any{"f": u.FileName}, &pending)
			if pending.Upload.Collection != "avatars" {
				t.Errorf("pending upload's collection %q", pending.Upload.Collection)
			}
			e.put(u, avatar)
			var saved struct{ SaveFiles []savedInCollection }
			e.do(publicSaveQ, saveVars(u.FileName, "Me.PNG"), &saved)
			f := saved.SaveFiles[0]
			if f.Collection != "avatars" || f.URL == nil {
				t.Fatalf("saved public file: %+v", f)
			}
			var wantURL string
			if backend == "sqlite+disk" {
				wantURL = e.URL + "/storage/" + u.FileName
			} else {
				wantURL = s3srv.Endpoint + "/" + e.store.Bucket() + "/" + u.FileName
			}
			if *f.URL != wantURL {
				t.Errorf("url %q, want %q", *f.URL, wantURL)
			}

			res := unsignedGet(t, *f.URL)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !bytes.Equal(body, avatar) {
				t.Fatalf("GET %s: %d, %d bytes", *f.URL, res.StatusCode, len(body))
			}
			if ct := res.Header.Get("Content-Type"); ct != "image/png" {
				t.Errorf("Content-Type %q", ct)
			}
			if backend == "sqlite+disk" {
				for name, want := range map[string]string{
					"Cache-Control":           "public, max-age=31536000, immutable",
					"X-Content-Type-Options":  "nosniff",
					"Content-Security-Policy": "sandbox",
					"Content-Disposition":     "",
				} {
					if got := res.Header.Get(name); got != want {
						t.Errorf("%s: %q, want %q", name, got, want)
					}
				}
			}
			// Signed downloads keep working for public files.
			if got := e.download(f.ID); !bytes.Equal(got, avatar) {
				t.Errorf("fileDownloadUrl of a public file: %d bytes", len(got))
			}

			doc := []byte("%PDF-1.7 private")
			du := e.createUploads(map[string]any{"originalName": "cv.pdf", "size": len(doc), "contentType": "application/pdf", "collection": "documents"})[0]
			if !privateKey.MatchString(du.FileName) {
				t.Errorf("private key %q", du.FileName)
			}
			e.put(du, doc)
			e.do(publicSaveQ, saveVars(du.FileName, "cv.pdf"), &saved)
			if d := saved.SaveFiles[0]; d.Collection != "documents" || d.URL != nil {
				t.Errorf("saved private file: %+v", d)
			}
			// Without a signature a private key is refused, whatever the
			// store: a public prefix does not make the bucket public.
			privateURL := strings.TrimSuffix(wantURL, u.FileName) + du.FileName
			if res := unsignedGet(t, privateURL); res.StatusCode < 400 {
				t.Errorf("unsigned GET of a private key: %d", res.StatusCode)
			}
			plain := e.upload("plain.txt", "text/plain", []byte("default"))

			var list struct {
				Files struct {
					Edges []struct{ Node savedInCollection }
				}
			}
			e.do(`{ files(where: {collection: "avatars"}) { edges { node { id fileName collection url } } } }`, nil, &list)
			if len(list.Files.Edges) != 1 || list.Files.Edges[0].Node.ID != f.ID || *list.Files.Edges[0].Node.URL != wantURL {
				t.Errorf("files in avatars: %+v", list.Files.Edges)
			}
			e.do(`{ files { edges { node { id fileName collection url } } } }`, nil, &list)
			colls := map[string]string{}
			for _, ed := range list.Files.Edges {
				colls[ed.Node.FileName] = ed.Node.Collection
			}
			if len(colls) != 3 || colls[plain.FileName] != "default" || colls[du.FileName] != "documents" {
				t.Errorf("collections of the files: %v", colls)
			}

			// Reconcile lists both prefixes: the public object counts (one
			// prefix would find 2 objects, and the public file missing).
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			r, err := e.srv.Files.Reconcile(ctx, false)
			if err != nil || r.Objects != 3 || r.Files != 3 || len(r.Orphans) != 0 || len(r.Missing) != 0 {
				t.Fatalf("reconcile: %+v, %v", r, err)
			}

			// Deleted: its object is gone, so its URL answers 404 (S3: 403
			// or 404, as the policy grants no ListBucket).
			e.do(deleteQ, map[string]any{"id": f.ID}, nil)
			if res := unsignedGet(t, *f.URL); res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
				t.Errorf("GET of a deleted public file: %d", res.StatusCode)
			}
			if _, err := e.store.Stat(ctx, u.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("deleted public object: %v", err)
			}
			checkUsage(t, e)
		})
	}
}

// An upload in parts to a public collection gets a public key and URL, as
// a single PUT does, and the sweeper removes a public upload left unsaved.
func TestPublicMultipartAndSweep(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "collections.yaml")
			os.WriteFile(p, []byte("collections:\n  videos:\n    public: true\n"), 0o600)
			e := newEnv(t, backend, "COLLECTIONS_FILE", p, "PART_SIZE", "5MiB", "UPLOAD_URL_TTL", "1m", "UPLOAD_SAVE_WINDOW", "10m")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			film := randomBytes(5*mib + 10)
			m := e.createMultipart(map[string]any{"originalName": "film.mp4", "size": len(film), "contentType": "video/mp4", "collection": "videos"})[0]
			if !strings.HasPrefix(m.FileName, "public/videos/") || !strings.HasSuffix(m.FileName, ".mp4") {
				t.Fatalf("key %q", m.FileName)
			}
			e.putParts(m, film, false, all(2)...)
			var saved struct{ SaveFiles []savedInCollection }
			e.do(publicSaveQ, saveVars(m.FileName, "film.mp4"), &saved)
			if f := saved.SaveFiles[0]; f.Collection != "videos" || f.URL == nil || !strings.HasSuffix(*f.URL, m.FileName) {
				t.Fatalf("saved: %+v", f)
			}
			if backend == "sqlite+disk" {
				res := unsignedGet(t, *saved.SaveFiles[0].URL)
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || !bytes.Equal(body, film) || res.Header.Get("Content-Type") != "video/mp4" {
					t.Errorf("public GET of a file saved in parts: %d, %d bytes, %q", res.StatusCode, len(body), res.Header.Get("Content-Type"))
				}
			}

			never := e.createUploads(map[string]any{"originalName": "never.png", "size": 2, "collection": "videos"})[0]
			e.put(never, []byte("hi"))
			e.clock.advance(12 * time.Minute)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 1 {
				t.Fatalf("sweep: %+v, %v", r, err)
			}
			if _, err := e.store.Stat(ctx, never.FileName); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("swept public upload's object: %v", err)
			}
			checkUsage(t, e)
		})
	}
}

// unsignedGet GETs url as a browser's <img> would: no credentials, no
// signature.
func unsignedGet(t *testing.T, url string) *http.Response {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// applyREADMEPolicy puts the bucket policy the README gives on bucket, so
// the test proves that very policy.
func applyREADMEPolicy(t *testing.T, bucket string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(\\{\n  \"Version\": \"2012-10-17\".*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no bucket policy block")
	}
	policy := strings.ReplaceAll(string(m[1]), "my-files", bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s3srv.Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("putting the README's policy: %v", err)
	}
}
