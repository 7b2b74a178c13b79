package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestFlow drives the whole client flow over HTTP, as a browser app does,
// on both backends.
func TestFlow(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) { testFlow(t, newEnv(t, backend)) })
	}
}

func testFlow(t *testing.T, e *env) {
	ctx := context.Background()
	bodies := map[string][]byte{
		"report.pdf":         randomBytes(70_000),
		"Résumé (final).txt": []byte("bonjour, le monde\n"),
		"photo.png":          randomBytes(3_000),
	}
	sum := sha256.Sum256(bodies["photo.png"])
	reqs := []map[string]any{
		{"originalName": "report.pdf", "size": len(bodies["report.pdf"]), "contentType": "application/pdf"},
		{"originalName": "Résumé (final).txt", "size": len(bodies["Résumé (final).txt"]), "contentType": "text/plain; charset=utf-8"},
		{"originalName": "photo.png", "size": len(bodies["photo.png"]), "contentType": "image/png", "checksumSHA256": base64.StdEncoding.EncodeToString(sum[:])},
		// The same name twice must never share a key.
		{"originalName": "report.pdf", "size": len(bodies["report.pdf"])},
	}
	urls := e.createUploads(reqs...)
	if len(urls) != len(reqs) {
		t.Fatalf("got %d upload URLs for %d requests", len(urls), len(reqs))
	}
	keys := map[string]bool{}
	for i, u := range urls {
		if u.Method != "PUT" || u.OriginalName != reqs[i]["originalName"] {
			t.Errorf("url %d: method %q name %q", i, u.Method, u.OriginalName)
		}
		if keys[u.FileName] || strings.Contains(u.FileName, "report") || strings.Contains(u.FileName, " ") {
			t.Errorf("key %q is repeated or made from the client's name", u.FileName)
		}
		keys[u.FileName] = true
		if d := time.Until(u.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
			t.Errorf("upload URL expires in %v, want the default 15m", d)
		}
	}
	var checksumHeader bool
	for _, h := range urls[2].Headers {
		checksumHeader = checksumHeader || strings.EqualFold(h.Name, "x-amz-checksum-sha256")
	}
	if !checksumHeader {
		t.Errorf("headers %v lack the announced checksum", urls[2].Headers)
	}

	for _, u := range urls {
		e.put(u, bodies[u.OriginalName])
	}
	save := make([]map[string]any, len(urls))
	for i, u := range urls {
		save[i] = map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
	}
	var saved struct{ SaveFiles []fileNode }
	e.do(saveQ, map[string]any{"files": save}, &saved)
	if len(saved.SaveFiles) != len(urls) {
		t.Fatalf("saved %d files, want %d", len(saved.SaveFiles), len(urls))
	}
	for i, f := range saved.SaveFiles {
		if f.FileName != urls[i].FileName || f.OriginalName != urls[i].OriginalName || f.Size != int64(len(bodies[f.OriginalName])) {
			t.Errorf("saved %+v for %+v", f, urls[i])
		}
		if f.Bucket != e.store.Bucket() || f.ID == "" || time.Since(f.CreatedAt) > time.Minute {
			t.Errorf("saved %+v", f)
		}
	}
	if ct := saved.SaveFiles[1].ContentType; ct != "text/plain; charset=utf-8" {
		t.Errorf("content type %q, want the announced one", ct)
	}
	if ct := saved.SaveFiles[3].ContentType; ct != "application/octet-stream" {
		t.Errorf("default content type %q", ct)
	}

	// A retried save returns the same files and makes no duplicates.
	var again struct{ SaveFiles []fileNode }
	e.do(saveQ, map[string]any{"files": save}, &again)
	if len(again.SaveFiles) != len(saved.SaveFiles) {
		t.Fatalf("retried save returned %d files, want %d", len(again.SaveFiles), len(saved.SaveFiles))
	}
	for i := range again.SaveFiles {
		if again.SaveFiles[i].ID != saved.SaveFiles[i].ID {
			t.Errorf("retried save returned %s, want %s", again.SaveFiles[i].ID, saved.SaveFiles[i].ID)
		}
	}

	// Pages of two, newest first by default.
	var page1, page2 connection
	e.do(listQ, map[string]any{"first": 2}, &page1)
	if page1.Files.TotalCount != 4 || len(page1.Files.Edges) != 2 || !page1.Files.PageInfo.HasNextPage {
		t.Fatalf("page 1: %+v", page1.Files)
	}
	e.do(listQ, map[string]any{"first": 2, "after": *page1.Files.PageInfo.EndCursor}, &page2)
	if len(page2.Files.Edges) != 2 || page2.Files.PageInfo.HasNextPage {
		t.Fatalf("page 2: %+v", page2.Files)
	}
	var listed []string
	for _, c := range []connection{page1, page2} {
		for _, edge := range c.Files.Edges {
			listed = append(listed, edge.Node.ID)
		}
	}
	want := []string{saved.SaveFiles[3].ID, saved.SaveFiles[2].ID, saved.SaveFiles[1].ID, saved.SaveFiles[0].ID}
	if !slices.Equal(listed, want) {
		t.Errorf("listed %v, want newest first %v", listed, want)
	}
	var back connection
	e.do(listQ, map[string]any{"last": 1, "before": page2.Files.Edges[0].Cursor}, &back)
	if len(back.Files.Edges) != 1 || back.Files.Edges[0].Node.ID != page1.Files.Edges[1].Node.ID {
		t.Errorf("last 1 before page 2: %+v", back.Files.Edges)
	}
	var bySize connection
	e.do(listQ, map[string]any{"orderBy": map[string]any{"field": "SIZE", "direction": "ASC"}, "where": map[string]any{"sizeLT": 60_000}}, &bySize)
	if got := bySize.names(); !slices.Equal(got, []string{"Résumé (final).txt", "photo.png"}) {
		t.Errorf("filtered by size, ordered by size: %v", got)
	}

	// Download: the same bytes, under the original name.
	for _, f := range saved.SaveFiles[:3] {
		var dl struct{ FileDownloadUrl struct{ URL string } }
		e.do(downloadQ, map[string]any{"id": f.ID}, &dl)
		res, err := client.Get(dl.FileDownloadUrl.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(got) != string(bodies[f.OriginalName]) {
			t.Errorf("GET %s: status %d, %d bytes, want %d", f.OriginalName, res.StatusCode, len(got), len(bodies[f.OriginalName]))
		}
		if cd := res.Header.Get("Content-Disposition"); cd != storage.ContentDisposition(f.OriginalName) {
			t.Errorf("Content-Disposition %q, want %q", cd, storage.ContentDisposition(f.OriginalName))
		}
		if ct := res.Header.Get("Content-Type"); ct != f.ContentType {
			t.Errorf("Content-Type %q, want %q", ct, f.ContentType)
		}
	}

	// node finds a file by id.
	var node struct {
		Node *struct{ ID, OriginalName string }
	}
	e.do(`query($id: ID!) { node(id: $id) { id ... on File { originalName } } }`, map[string]any{"id": saved.SaveFiles[0].ID}, &node)
	if node.Node == nil || node.Node.OriginalName != "report.pdf" {
		t.Errorf("node: %+v", node.Node)
	}

	// Delete: object and row go; a second delete is NOT_FOUND.
	gone := saved.SaveFiles[0]
	var del struct{ DeleteFile string }
	e.do(deleteQ, map[string]any{"id": gone.ID}, &del)
	if del.DeleteFile != gone.ID {
		t.Errorf("deleteFile returned %q, want %q", del.DeleteFile, gone.ID)
	}
	if _, err := e.store.Stat(ctx, gone.FileName); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("object after delete: %v", err)
	}
	e.fail("NOT_FOUND", deleteQ, map[string]any{"id": gone.ID})
	e.fail("NOT_FOUND", downloadQ, map[string]any{"id": gone.ID})
	var after connection
	e.do(listQ, nil, &after)
	if after.Files.TotalCount != 3 {
		t.Errorf("after delete: %d files listed, want 3", after.Files.TotalCount)
	}
}

func TestUploadRequestRefusals(t *testing.T) {
	e := newEnv(t, "sqlite+disk", "MAX_UPLOAD_SIZE", "1MiB")
	ok := map[string]any{"originalName": "a.txt", "size": 10}
	with := func(k string, v any) map[string]any {
		m := map[string]any{"originalName": "a.txt", "size": 10}
		m[k] = v
		return m
	}
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = ok
	}
	tests := []struct {
		name  string
		files []map[string]any
		field string
		msg   string
	}{
		{"EmptyName", []map[string]any{with("originalName", "")}, "files[0].originalName", "empty"},
		{"LongName", []map[string]any{with("originalName", strings.Repeat("é", 128))}, "files[0].originalName", "256 bytes"},
		{"ControlCharacter", []map[string]any{ok, with("originalName", "a\nb.txt")}, "files[1].originalName", "control"},
		{"ZeroSize", []map[string]any{with("size", 0)}, "files[0].size", "at least 1"},
		{"NegativeSize", []map[string]any{with("size", -5)}, "files[0].size", "at least 1"},
		{"OverLimit", []map[string]any{with("size", 1<<20+1)}, "files[0].size", "by 1"},
		{"BadContentType", []map[string]any{with("contentType", "not a type")}, "files[0].contentType", "media type"},
		{"WildcardContentType", []map[string]any{with("contentType", "image/*")}, "files[0].contentType", "media type"},
		{"BadChecksum", []map[string]any{with("checksumSHA256", "abc")}, "files[0].checksumSHA256", "SHA-256"},
		{"TooMany", many, "files", "101 files"},
		{"None", []map[string]any{}, "files", "at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.fail("BAD_USER_INPUT", createQ, map[string]any{"files": tt.files})
			problems, _ := err.Extensions["problems"].([]any)
			if len(problems) != 1 {
				t.Fatalf("problems %v, want one", err.Extensions["problems"])
			}
			p := problems[0].(map[string]any)
			if p["field"] != tt.field || !strings.Contains(p["message"].(string), tt.msg) {
				t.Errorf("problem %v, want field %s mentioning %q", p, tt.field, tt.msg)
			}
		})
	}
	if n := e.srv.db.Ent.Upload.Query().CountX(context.Background()); n != 0 {
		t.Errorf("%d uploads recorded by refused requests", n)
	}
	// Size is an Int64: past 2^31 is fine up to the limit, and refused by it.
	e.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []map[string]any{with("size", int64(5)<<30)}})
}

func TestSaveRefusals(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			body := randomBytes(500)
			urls := e.createUploads(
				map[string]any{"originalName": "good.bin", "size": 500},
				map[string]any{"originalName": "never-uploaded.bin", "size": 500},
				map[string]any{"originalName": "wrong-size.bin", "size": 500},
			)
			e.put(urls[0], body)
			// An object of another size under an issued key, as if written
			// past the presigned URL.
			storagetest.Upload(t, e.store, urls[2].FileName, "application/octet-stream", body[:400])

			req := func(u uploadURL) map[string]any {
				return map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
			}
			err := e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{
				req(urls[0]), req(urls[1]), req(urls[2]),
				{"fileName": "files/00000000000000000000000000000000.bin", "originalName": "x.bin"},
			}})
			for _, want := range []string{"3 problems", "files[1].fileName", "has not been uploaded", "files[2].fileName", "400 bytes", "files[3].fileName", "not issued"} {
				if !strings.Contains(err.Message, want) {
					t.Errorf("error %q does not mention %q", err.Message, want)
				}
			}
			// All or nothing: the good file was not saved by the refused call.
			var list connection
			e.do(listQ, nil, &list)
			if list.Files.TotalCount != 0 {
				t.Fatalf("%d files saved by a refused call", list.Files.TotalCount)
			}
			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, map[string]any{"files": []map[string]any{req(urls[0])}}, &saved)
			if len(saved.SaveFiles) != 1 || saved.SaveFiles[0].Size != 500 {
				t.Errorf("saving the good file alone: %+v", saved.SaveFiles)
			}
			e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{req(urls[0]), req(urls[0])}})
			// The original name is the one announced, before and after saving.
			renamed := func(u uploadURL) map[string]any {
				return map[string]any{"fileName": u.FileName, "originalName": "renamed.bin"}
			}
			if err := e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{renamed(urls[0])}}); !strings.Contains(err.Message, "was saved as") {
				t.Errorf("renaming a saved file: %q", err.Message)
			}
			if err := e.fail("BAD_USER_INPUT", saveQ, map[string]any{"files": []map[string]any{renamed(urls[1])}}); !strings.Contains(err.Message, "was issued for") {
				t.Errorf("renaming an issued upload: %q", err.Message)
			}
		})
	}
}

func TestUnknownIDs(t *testing.T) {
	e := newEnv(t, "sqlite+disk")
	unknown := "01890a5d-ac96-774b-bcce-b302099a8057"
	e.fail("NOT_FOUND", downloadQ, map[string]any{"id": unknown})
	e.fail("NOT_FOUND", deleteQ, map[string]any{"id": unknown})
	bad := e.fail("BAD_USER_INPUT", downloadQ, map[string]any{"id": "not-a-uuid"})
	if !strings.Contains(bad.Message, "not a UUID") {
		t.Errorf("message %q", bad.Message)
	}
	e.fail("BAD_USER_INPUT", listQ, map[string]any{"after": "garbage"})
	e.fail("BAD_USER_INPUT", listQ, map[string]any{"first": 101})
	e.fail("BAD_USER_INPUT", listQ, map[string]any{"first": -1})
	e.fail("BAD_USER_INPUT", listQ, map[string]any{"where": map[string]any{"not": map[string]any{}}})
	var node struct{ Node *struct{ ID string } }
	e.do(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": unknown}, &node)
	if node.Node != nil {
		t.Errorf("node of an unknown id: %+v, want null", node.Node)
	}
	f := e.upload("a.txt", "text/plain", []byte("a"))
	var nodes struct{ Nodes []*struct{ ID string } }
	e.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{unknown, f.ID}}, &nodes)
	if len(nodes.Nodes) != 2 || nodes.Nodes[0] != nil || nodes.Nodes[1] == nil || nodes.Nodes[1].ID != f.ID {
		t.Errorf("nodes: %+v, want [null, %s]", nodes.Nodes, f.ID)
	}
}

// TestConcurrentSave: two clients saving the same upload at once get the
// same file, and there is one row.
func TestConcurrentSave(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			u := e.createUploads(map[string]any{"originalName": "a.bin", "size": 100})[0]
			e.put(u, randomBytes(100))
			// Off the test goroutine: results go back on a channel,
			// never through t. All four start together.
			ids := make(chan string, 4)
			start := make(chan struct{})
			for range 4 {
				go func() {
					<-start
					r, err := e.send(context.Background(), saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "a.bin"}}})
					var out struct{ SaveFiles []fileNode }
					switch {
					case err != nil:
						ids <- "error: " + err.Error()
					case len(r.Errors) > 0:
						ids <- "error: " + r.Errors[0].Message
					case json.Unmarshal(r.Data, &out) != nil || len(out.SaveFiles) != 1:
						ids <- "error: unexpected data " + string(r.Data)
					default:
						ids <- out.SaveFiles[0].ID
					}
				}()
			}
			close(start)
			first := <-ids
			if strings.HasPrefix(first, "error: ") {
				t.Errorf("a concurrent save failed: %s", first)
			}
			for range 3 {
				if id := <-ids; id != first {
					t.Errorf("concurrent saves returned %q and %q", first, id)
				}
			}
			if n := e.srv.db.Ent.File.Query().CountX(context.Background()); n != 1 {
				t.Errorf("%d rows, want 1", n)
			}
			checkUsage(t, e)
		})
	}
}
