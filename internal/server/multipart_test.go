package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

const (
	createMPQ = `mutation($files: [MultipartUploadRequest!]!) { createMultipartUploads(files: $files) {
		fileName originalName size partSize partCount expiresAt } }`
	partsQ = `mutation($fileName: String!, $parts: [UploadPartRequest!]!) { uploadPartUrls(fileName: $fileName, parts: $parts) {
		partNumber size url method headers { name value } expiresAt } }`
	uploadQ = `query($fileName: String!) { upload(fileName: $fileName) {
		fileName originalName size contentType createdAt expiresAt partSize partCount uploadedParts { partNumber size } } }`
	uploadsQ = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor) { uploads(first: $first, after: $after, last: $last, before: $before) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { fileName originalName size contentType createdAt expiresAt partSize partCount uploadedParts { partNumber size } } } } }`
	abortQ = `mutation($fileName: String!) { abortUpload(fileName: $fileName) }`
)

type multipartUpload struct {
	FileName, OriginalName string
	Size, PartSize         int64
	PartCount              int
	ExpiresAt              time.Time
}

type uploadPart struct {
	PartNumber int
	Size       int64
	URL        string
	Method     string
	Headers    []header
	ExpiresAt  time.Time
}

func (p uploadPart) request() storage.Request {
	return uploadURL{URL: p.URL, Method: p.Method, Headers: p.Headers}.request()
}

type uploadedPart struct {
	PartNumber int
	Size       int64
}

type pendingUpload struct {
	FileName, OriginalName, ContentType string
	Size                                int64
	CreatedAt, ExpiresAt                time.Time
	PartSize                            *int64
	PartCount                           *int
	UploadedParts                       []uploadedPart
}

type pendingConnection struct {
	Uploads struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   pendingUpload
		}
	}
}

func (e *env) createMultipart(reqs ...map[string]any) []multipartUpload {
	e.t.Helper()
	var out struct{ CreateMultipartUploads []multipartUpload }
	e.do(createMPQ, map[string]any{"files": reqs}, &out)
	return out.CreateMultipartUploads
}

// partURLs asks for the URLs of parts numbers of body, with checksums when
// sums is set.
func (e *env) partURLs(m multipartUpload, body []byte, sums bool, numbers ...int) []uploadPart {
	e.t.Helper()
	parts := storagetest.PartBodies(body, int(m.PartSize))
	reqs := make([]map[string]any, len(numbers))
	for i, n := range numbers {
		reqs[i] = map[string]any{"partNumber": n}
		if sums {
			h := sha256.Sum256(parts[n-1])
			reqs[i]["checksumSHA256"] = base64.StdEncoding.EncodeToString(h[:])
		}
	}
	var out struct{ UploadPartUrls []uploadPart }
	e.do(partsQ, map[string]any{"fileName": m.FileName, "parts": reqs}, &out)
	return out.UploadPartUrls
}

// putParts uploads parts numbers of body, all at once, as a browser with
// parallel XHRs does.
func (e *env) putParts(m multipartUpload, body []byte, sums bool, numbers ...int) {
	e.t.Helper()
	parts := storagetest.PartBodies(body, int(m.PartSize))
	urls := e.partURLs(m, body, sums, numbers...)
	errs := make(chan error, len(urls))
	for _, u := range urls {
		go func() { errs <- storagetest.SendErr(u.request(), parts[u.PartNumber-1]) }()
	}
	for range urls {
		if err := <-errs; err != nil {
			e.t.Error(err)
		}
	}
	if e.t.Failed() {
		e.t.FailNow()
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func saveVars(fileName, originalName string) map[string]any {
	return map[string]any{"files": []map[string]any{{"fileName": fileName, "originalName": originalName}}}
}

// download fetches a saved file's bytes through fileDownloadUrl.
func (e *env) download(id string) []byte {
	e.t.Helper()
	var d struct{ FileDownloadURL struct{ URL string } }
	e.do(downloadQ, map[string]any{"id": id}, &d)
	return get(e.t, d.FileDownloadURL.URL)
}

const mib = 1 << 20

// TestMultipartFlow: files of a few parts, uploaded in parallel (one with
// part checksums), saved together, downloaded whole; a retried save returns
// the same files, and nothing is left pending.
func TestMultipartFlow(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB")
			ctx := context.Background()
			big, summed := randomBytes(2*5*mib+1234), randomBytes(5*mib+100)
			ms := e.createMultipart(
				map[string]any{"originalName": "film.mp4", "size": len(big), "contentType": "video/mp4"},
				map[string]any{"originalName": "disk.img", "size": len(summed), "partChecksums": true},
			)
			if m := ms[0]; m.PartSize != 5*mib || m.PartCount != 3 || m.Size != int64(len(big)) || m.OriginalName != "film.mp4" || !strings.HasPrefix(m.FileName, "files/") {
				t.Errorf("created %+v", m)
			}
			if d := time.Until(ms[0].ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
				t.Errorf("expires in %v, want the default 24h", d)
			}
			urls := e.partURLs(ms[0], big, false, 1, 3)
			for i, u := range urls {
				want := []int64{5 * mib, 1234}[i]
				if u.Method != "PUT" || u.Size != want || time.Until(u.ExpiresAt) > 16*time.Minute {
					t.Errorf("part URL %+v, want a PUT of %d bytes living UPLOAD_URL_TTL", u, want)
				}
				length := false
				for _, h := range u.Headers {
					length = length || (strings.EqualFold(h.Name, "Content-Length") && h.Value == fmt.Sprint(want))
				}
				if !length {
					t.Errorf("part %d headers %v do not carry its Content-Length", u.PartNumber, u.Headers)
				}
			}
			e.putParts(ms[0], big, false, all(3)...)
			e.putParts(ms[1], summed, true, all(2)...)

			var p struct{ Upload *pendingUpload }
			e.do(uploadQ, map[string]any{"fileName": ms[0].FileName}, &p)
			if p.Upload == nil || len(p.Upload.UploadedParts) != 3 || *p.Upload.PartCount != 3 || p.Upload.ContentType != "video/mp4" {
				t.Fatalf("upload = %+v", p.Upload)
			}

			// The store's ids, read while the rows still hold them.
			ids := []string{e.multipartID(ms[0].FileName), e.multipartID(ms[1].FileName)}
			save := map[string]any{"files": []map[string]any{
				{"fileName": ms[0].FileName, "originalName": "film.mp4"},
				{"fileName": ms[1].FileName, "originalName": "disk.img"},
			}}
			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, save, &saved)
			for i, body := range [][]byte{big, summed} {
				f := saved.SaveFiles[i]
				if f.Size != int64(len(body)) || f.FileName != ms[i].FileName {
					t.Errorf("saved %+v", f)
				}
				if got := e.download(f.ID); sha256.Sum256(got) != sha256.Sum256(body) {
					t.Errorf("%s downloads as %d bytes that differ from the %d uploaded", f.OriginalName, len(got), len(body))
				}
			}
			if saved.SaveFiles[0].ContentType != "video/mp4" {
				t.Errorf("content type %q", saved.SaveFiles[0].ContentType)
			}
			var again struct{ SaveFiles []fileNode }
			e.do(saveQ, save, &again)
			if again.SaveFiles[0].ID != saved.SaveFiles[0].ID || again.SaveFiles[1].ID != saved.SaveFiles[1].ID {
				t.Errorf("a retried save returned other files")
			}
			e.do(uploadQ, map[string]any{"fileName": ms[0].FileName}, &p)
			if p.Upload != nil {
				t.Errorf("a saved upload is still pending: %+v", p.Upload)
			}
			var c pendingConnection
			e.do(uploadsQ, nil, &c)
			if c.Uploads.TotalCount != 0 || len(c.Uploads.Edges) != 0 {
				t.Errorf("pending after save: %+v", c.Uploads)
			}
			for i, id := range ids {
				if _, err := e.store.ListParts(ctx, ms[i].FileName, id); !errors.Is(err, storage.ErrNotExist) {
					t.Errorf("the store still has %s's upload in progress: %v", ms[i].OriginalName, err)
				}
			}
			if n := e.inProgress(); n != 0 {
				t.Errorf("%d uploads in progress remain in the store", n)
			}
		})
	}
}

// multipartID reads the store's upload id from the pending upload's row;
// it fails the test when there is no such row or no id, so that a check
// made with the id never asks the store about "".
func (e *env) multipartID(fileName string) string {
	e.t.Helper()
	var id sql.NullString
	if err := e.srv.db.SQL.QueryRow("SELECT multipart_id FROM uploads WHERE file_name = $1", fileName).Scan(&id); err != nil {
		e.t.Fatalf("the upload id of %s: %v", fileName, err)
	}
	if id.String == "" {
		e.t.Fatalf("the upload %s has no multipart id", fileName)
	}
	return id.String
}

// inProgress counts the uploads in parts the store holds; a listing that
// fails fails the test instead of reading as none.
func (e *env) inProgress() int {
	e.t.Helper()
	n := 0
	err := e.store.ListMultipart(context.Background(), "", func(storage.MultipartUpload) error { n++; return nil })
	if err != nil {
		e.t.Fatalf("ListMultipart: %v", err)
	}
	return n
}

// TestMultipartResume: a client uploads some parts and goes away (a reload);
// a new client of the same user finds the upload through uploads, reads
// which parts are there, saving before the rest is refused and names what
// is missing, then it uploads the rest and saves.
func TestMultipartResume(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB")
			body := randomBytes(3*5*mib + 77)
			m := e.createMultipart(map[string]any{"originalName": "long.bin", "size": len(body)})[0]
			e.createUploads(map[string]any{"originalName": "single.txt", "size": 3}) // another pending upload
			e.putParts(m, body, false, 1, 3)

			// The new client knows nothing but the user.
			var c pendingConnection
			e.do(uploadsQ, map[string]any{"first": 10}, &c)
			if c.Uploads.TotalCount != 2 || len(c.Uploads.Edges) != 2 {
				t.Fatalf("uploads = %+v", c.Uploads)
			}
			single, found := c.Uploads.Edges[0].Node, c.Uploads.Edges[1].Node // newest first
			if single.OriginalName != "single.txt" || single.PartSize != nil || single.PartCount != nil || len(single.UploadedParts) != 0 {
				t.Errorf("single PUT listed as %+v", single)
			}
			if found.FileName != m.FileName || *found.PartSize != 5*mib || *found.PartCount != 4 {
				t.Fatalf("upload in parts listed as %+v", found)
			}
			want := []uploadedPart{{1, 5 * mib}, {3, 5 * mib}}
			if fmt.Sprint(found.UploadedParts) != fmt.Sprint(want) {
				t.Errorf("uploadedParts = %v, want %v", found.UploadedParts, want)
			}
			err := e.fail("BAD_USER_INPUT", saveQ, saveVars(m.FileName, "long.bin"))
			if !strings.Contains(err.Message, "missing parts 2, 4 of 4") {
				t.Errorf("save with parts missing: %q", err.Message)
			}
			var list connection
			e.do(listQ, nil, &list)
			if list.Files.TotalCount != 0 {
				t.Errorf("a refused save saved %d files", list.Files.TotalCount)
			}

			// Pages of one, both ways.
			var p1, p2, back pendingConnection
			e.do(uploadsQ, map[string]any{"first": 1}, &p1)
			e.do(uploadsQ, map[string]any{"first": 1, "after": *p1.Uploads.PageInfo.EndCursor}, &p2)
			e.do(uploadsQ, map[string]any{"last": 1, "before": *p2.Uploads.PageInfo.StartCursor}, &back)
			if !p1.Uploads.PageInfo.HasNextPage || p2.Uploads.PageInfo.HasNextPage || p2.Uploads.Edges[0].Node.FileName != m.FileName ||
				back.Uploads.Edges[0].Node.OriginalName != "single.txt" || back.Uploads.PageInfo.HasPreviousPage {
				t.Errorf("pages: %+v / %+v / %+v", p1.Uploads, p2.Uploads, back.Uploads)
			}

			var missing []int
			have := map[int]bool{}
			for _, p := range found.UploadedParts {
				have[p.PartNumber] = true
			}
			for n := 1; n <= *found.PartCount; n++ {
				if !have[n] {
					missing = append(missing, n)
				}
			}
			e.putParts(multipartUpload{FileName: found.FileName, PartSize: *found.PartSize}, body, false, missing...)
			var saved struct{ SaveFiles []fileNode }
			e.do(saveQ, saveVars(m.FileName, "long.bin"), &saved)
			if got := e.download(saved.SaveFiles[0].ID); !bytes.Equal(got, body) {
				t.Errorf("the resumed upload downloads as %d bytes that differ from the %d uploaded", len(got), len(body))
			}
		})
	}
}

// TestMultipartRefusals: bad input is BAD_USER_INPUT naming the field, and
// the store itself refuses a part of the wrong size or checksum.
func TestMultipartRefusals(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB", "MAX_UPLOAD_SIZE", "1GiB")
			body := randomBytes(5*mib + 10)
			ms := e.createMultipart(
				map[string]any{"originalName": "a.bin", "size": len(body)},
				map[string]any{"originalName": "b.bin", "size": len(body), "partChecksums": true},
			)
			plain, summed := ms[0], ms[1]
			single := e.createUploads(map[string]any{"originalName": "s.txt", "size": 1})[0]
			sum := base64.StdEncoding.EncodeToString(make([]byte, 32))
			many := make([]map[string]any, 101)
			for i := range many {
				many[i] = map[string]any{"partNumber": 1}
			}
			for _, c := range []struct {
				name, q, want string
				vars          map[string]any
			}{
				{"size 0", createMPQ, "files[0].size", map[string]any{"files": []map[string]any{{"originalName": "x", "size": 0}}}},
				{"over MAX_UPLOAD_SIZE", createMPQ, "files[0].size", map[string]any{"files": []map[string]any{{"originalName": "x", "size": 2 << 30}}}},
				{"no name", createMPQ, "files[0].originalName", map[string]any{"files": []map[string]any{{"originalName": "", "size": 1}}}},
				{"part 0", partsQ, "parts[0].partNumber", map[string]any{"fileName": plain.FileName, "parts": []map[string]any{{"partNumber": 0}}}},
				{"part past the count", partsQ, "parts[1].partNumber", map[string]any{"fileName": plain.FileName, "parts": []map[string]any{{"partNumber": 2}, {"partNumber": 3}}}},
				{"101 parts", partsQ, "at most 100", map[string]any{"fileName": plain.FileName, "parts": many}},
				{"no parts", partsQ, "at least one", map[string]any{"fileName": plain.FileName, "parts": []map[string]any{}}},
				{"checksum missing", partsQ, "parts[0].checksumSHA256", map[string]any{"fileName": summed.FileName, "parts": []map[string]any{{"partNumber": 1}}}},
				{"checksum malformed", partsQ, "parts[0].checksumSHA256", map[string]any{"fileName": summed.FileName, "parts": []map[string]any{{"partNumber": 1, "checksumSHA256": "abc"}}}},
				{"checksum not asked for", partsQ, "parts[0].checksumSHA256", map[string]any{"fileName": plain.FileName, "parts": []map[string]any{{"partNumber": 1, "checksumSHA256": sum}}}},
				{"a single PUT", partsQ, "single PUT", map[string]any{"fileName": single.FileName, "parts": []map[string]any{{"partNumber": 1}}}},
			} {
				err := e.fail("BAD_USER_INPUT", c.q, c.vars)
				if !strings.Contains(err.Message, c.want) {
					t.Errorf("%s: %q does not name %q", c.name, err.Message, c.want)
				}
			}
			e.fail("NOT_FOUND", partsQ, map[string]any{"fileName": "files/nope.bin", "parts": []map[string]any{{"partNumber": 1}}})
			e.fail("NOT_FOUND", abortQ, map[string]any{"fileName": "files/nope.bin"})

			// The store refuses a part of another length, or other bytes
			// than the checksum it was signed for.
			parts := storagetest.PartBodies(body, 5*mib)
			u := e.partURLs(plain, body, false, 2)[0]
			if err := storagetest.SendErr(u.request(), parts[1][:9]); err == nil {
				t.Error("a short part was taken")
			}
			u = e.partURLs(summed, body, true, 2)[0]
			if err := storagetest.SendErr(u.request(), randomBytes(10)); err == nil {
				t.Error("a part that does not match its checksum was taken")
			}
			var p struct{ Upload *pendingUpload }
			e.do(uploadQ, map[string]any{"fileName": summed.FileName}, &p)
			if len(p.Upload.UploadedParts) != 0 {
				t.Errorf("refused parts are listed: %v", p.Upload.UploadedParts)
			}
		})
	}
}

// TestMultipartAbort: an aborted upload is gone from the store and the
// API; saving it is refused as never issued.
func TestMultipartAbort(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "PART_SIZE", "5MiB")
			ctx := context.Background()
			body := randomBytes(5*mib + 1)
			m := e.createMultipart(map[string]any{"originalName": "gone.bin", "size": len(body)})[0]
			e.putParts(m, body, false, 1)
			id := e.multipartID(m.FileName)
			single := e.createUploads(map[string]any{"originalName": "gone.txt", "size": 4})[0]
			e.put(single, []byte("gone"))

			for _, key := range []string{m.FileName, single.FileName} {
				var out struct{ AbortUpload bool }
				e.do(abortQ, map[string]any{"fileName": key}, &out)
				if !out.AbortUpload {
					t.Errorf("abortUpload(%s) = false", key)
				}
				err := e.fail("BAD_USER_INPUT", saveQ, saveVars(key, map[string]string{m.FileName: "gone.bin", single.FileName: "gone.txt"}[key]))
				if !strings.Contains(err.Message, "was not issued") {
					t.Errorf("save after abort: %q", err.Message)
				}
				e.fail("NOT_FOUND", abortQ, map[string]any{"fileName": key})
				if _, err := e.store.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
					t.Errorf("the object of %s is still there: %v", key, err)
				}
			}
			if _, err := e.store.ListParts(ctx, m.FileName, id); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("the store still holds the parts: %v", err)
			}
			if n := e.inProgress(); n != 0 {
				t.Errorf("%d uploads in progress remain in the store", n)
			}
			var c pendingConnection
			e.do(uploadsQ, nil, &c)
			if c.Uploads.TotalCount != 0 {
				t.Errorf("%d uploads still pending", c.Uploads.TotalCount)
			}
		})
	}
}

// TestMultipartCrossUser: bob cannot see, sign for, abort or save alice's
// upload in parts; each reads as if it did not exist, and it stays hers.
func TestMultipartCrossUser(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend, "PART_SIZE", "5MiB")
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			body := randomBytes(100)
			m := alice.createMultipart(map[string]any{"originalName": "hers.bin", "size": len(body)})[0]
			alice.putParts(m, body, false, 1)

			var p struct{ Upload *pendingUpload }
			bob.do(uploadQ, map[string]any{"fileName": m.FileName}, &p)
			if p.Upload != nil {
				t.Errorf("bob reads alice's upload: %+v", p.Upload)
			}
			var c pendingConnection
			bob.do(uploadsQ, nil, &c)
			if c.Uploads.TotalCount != 0 || len(c.Uploads.Edges) != 0 {
				t.Errorf("bob lists %d uploads", c.Uploads.TotalCount)
			}
			unknown := bob.fail("NOT_FOUND", partsQ, map[string]any{"fileName": "files/nope.bin", "parts": []map[string]any{{"partNumber": 1}}})
			hers := bob.fail("NOT_FOUND", partsQ, map[string]any{"fileName": m.FileName, "parts": []map[string]any{{"partNumber": 1}}})
			if unknown.Message != hers.Message {
				t.Errorf("messages differ: %q vs %q", unknown.Message, hers.Message)
			}
			bob.fail("NOT_FOUND", abortQ, map[string]any{"fileName": m.FileName})
			err := bob.fail("BAD_USER_INPUT", saveQ, saveVars(m.FileName, "hers.bin"))
			if !strings.Contains(err.Message, "was not issued") {
				t.Errorf("bob saving alice's upload: %q", err.Message)
			}

			alice.do(uploadQ, map[string]any{"fileName": m.FileName}, &p)
			if p.Upload == nil || len(p.Upload.UploadedParts) != 1 {
				t.Fatalf("alice's upload after bob's attempts: %+v", p.Upload)
			}
			var saved struct{ SaveFiles []fileNode }
			alice.do(saveQ, saveVars(m.FileName, "hers.bin"), &saved)
			if got := alice.download(saved.SaveFiles[0].ID); !bytes.Equal(got, body) {
				t.Error("alice's file changed")
			}
		})
	}
}

// TestMultipartLimits: quotas and the pending cap count an upload in parts
// by its full size from the moment it is created; createUploadUrls sends
// files the store cannot take in one PUT to createMultipartUploads; the
// part size grows to keep parts within 10,000.
func TestMultipartLimits(t *testing.T) {
	e := newEnv(t, "postgres+s3", "USER_QUOTA_BYTES", "20MiB", "MAX_PENDING_UPLOADS", "2", "MAX_UPLOAD_SIZE", "5TiB")
	e.createMultipart(map[string]any{"originalName": "a.bin", "size": 15 * mib})
	err := e.fail("FORBIDDEN", createMPQ, map[string]any{"files": []map[string]any{{"originalName": "b.bin", "size": 6 * mib}}})
	if err.Extensions["limit"] != "USER_QUOTA_BYTES" {
		t.Errorf("quota: %+v", err)
	}
	err = e.fail("FORBIDDEN", createQ, map[string]any{"files": []map[string]any{{"originalName": "b.bin", "size": 6 * mib}}})
	if err.Extensions["limit"] != "USER_QUOTA_BYTES" {
		t.Errorf("quota, single PUT: %+v", err)
	}
	e.createMultipart(map[string]any{"originalName": "c.bin", "size": 1})
	err = e.fail("FORBIDDEN", createMPQ, map[string]any{"files": []map[string]any{{"originalName": "d.bin", "size": 1}}})
	if err.Extensions["limit"] != "MAX_PENDING_UPLOADS" {
		t.Errorf("pending cap: %+v", err)
	}
	if n := e.inProgress(); n != 2 {
		t.Errorf("the store has %d uploads in progress, want the 2 issued (refused ones aborted)", n)
	}

	f := newEnv(t, "postgres+s3", "MAX_UPLOAD_SIZE", "5TiB")
	err = f.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []map[string]any{{"originalName": "huge.iso", "size": 6 << 30}}})
	if !strings.Contains(err.Message, "createMultipartUploads") {
		t.Errorf("createUploadUrls over one PUT: %q", err.Message)
	}
	huge := f.createMultipart(map[string]any{"originalName": "huge.iso", "size": 5 << 40})[0]
	if huge.PartCount > storage.MaxParts || huge.PartSize*int64(huge.PartCount) < 5<<40 || huge.PartSize%mib != 0 {
		t.Errorf("5TiB in %d parts of %d bytes", huge.PartCount, huge.PartSize)
	}
	u := f.partURLs(huge, nil, false, huge.PartCount)[0]
	if want := int64(5<<40) - int64(huge.PartCount-1)*huge.PartSize; u.Size != want {
		t.Errorf("last part is %d bytes, want %d", u.Size, want)
	}
	f.do(abortQ, map[string]any{"fileName": huge.FileName}, nil)
}

// TestSweepExpiredMultipart: past MULTIPART_UPLOAD_WINDOW an upload in
// parts is refused and then swept: aborted in the store (no parts left),
// and, for one a crashed save had completed, its object deleted too.
func TestSweepExpiredMultipart(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, "MULTIPART_UPLOAD_WINDOW", "2h", "UPLOAD_SAVE_WINDOW", "10m")
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			body := []byte("one small part")
			ms := e.createMultipart(map[string]any{"originalName": "open.bin", "size": len(body)}, map[string]any{"originalName": "done.bin", "size": len(body)})
			for _, m := range ms {
				e.putParts(m, body, false, 1)
			}
			// done.bin: completed in the store, the row never written (a crash).
			doneID := e.multipartID(ms[1].FileName)
			parts, err := e.store.ListParts(ctx, ms[1].FileName, doneID)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.CompleteMultipart(ctx, ms[1].FileName, doneID, parts); err != nil {
				t.Fatal(err)
			}

			e.clock.advance(90 * time.Minute) // inside the window (and past the single-PUT one)
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 0 {
				t.Fatalf("sweep inside the window: %+v, %v", r, err)
			}
			e.clock.advance(31 * time.Minute)
			late := e.fail("BAD_USER_INPUT", saveQ, saveVars(ms[0].FileName, "open.bin"))
			if !strings.Contains(late.Message, "expired") {
				t.Errorf("late save: %q", late.Message)
			}
			e.clock.advance(time.Minute) // the clock-skew margin
			if r, err := e.srv.Files.Sweep(ctx); err != nil || r.Uploads != 2 {
				t.Fatalf("sweep past the window: %+v, %v", r, err)
			}
			for _, m := range ms {
				if _, err := e.store.Stat(ctx, m.FileName); !errors.Is(err, storage.ErrNotExist) {
					t.Errorf("%s: object left: %v", m.OriginalName, err)
				}
			}
			if n := e.inProgress(); n != 0 {
				t.Errorf("%d uploads in progress left in the store", n)
			}
			if c, err := e.srv.db.Ent.Upload.Query().Count(ctx); err != nil || c != 0 {
				t.Errorf("%d upload rows left (%v)", c, err)
			}
		})
	}
}

// TestReconcileStrayMultipart: an upload in parts the store has and no row
// knows is reported (once it is older than a request can take), and -fix
// aborts it; uploads with rows are left alone.
func TestReconcileStrayMultipart(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := auth.WithUser(context.Background(), auth.LocalUser)
			known := e.createMultipart(map[string]any{"originalName": "known.bin", "size": 10})[0]
			stray := "files/0123456789abcdef0123456789abcdef.bin"
			id, err := e.store.CreateMultipart(ctx, stray, storage.MultipartOptions{ContentType: "application/octet-stream"})
			if err != nil {
				t.Fatal(err)
			}
			if backend == "postgres+s3" { // disk storage takes no part without a pending upload
				storagetest.UploadParts(t, e.store, stray, id, [][]byte{[]byte("stray")}, false)
			}

			r, err := e.srv.Files.Reconcile(ctx, false)
			if err != nil || len(r.StrayUploads) != 0 {
				t.Fatalf("a young stray upload was reported: %+v, %v", r, err)
			}
			e.clock.advance(2 * time.Hour)
			r, err = e.srv.Files.Reconcile(ctx, false)
			if err != nil || len(r.StrayUploads) != 1 || r.StrayUploads[0].Key != stray || r.StrayUploads[0].UploadID != id {
				t.Fatalf("reconcile: %+v, %v", r, err)
			}
			if r, err = e.srv.Files.Reconcile(ctx, true); err != nil || !r.Fixed {
				t.Fatalf("reconcile -fix: %+v, %v", r, err)
			}
			if _, err := e.store.ListParts(ctx, stray, id); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("the stray upload is still there: %v", err)
			}
			if _, err := e.store.ListParts(ctx, known.FileName, e.multipartID(known.FileName)); err != nil {
				t.Errorf("the known upload was touched: %v", err)
			}
		})
	}
}
