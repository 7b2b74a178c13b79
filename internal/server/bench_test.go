package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/auth"
)

// Benchmarks run GraphQL requests through the real handler (routing,
// logging middleware, gqlgen, the files service, the database and the
// presigner) without the loopback network in between, on both backends.

func benchRequest(b *testing.B, h http.Handler, query string, vars map[string]any) {
	b.Helper()
	benchRequestAs(b, h, "", query, vars)
}

// benchRequestAs sends a bearer token too, when there is one.
func benchRequestAs(b *testing.B, h http.Handler, token, query string, vars map[string]any) {
	b.Helper()
	if err := benchTry(h, token, query, vars); err != nil {
		b.Fatal(err)
	}
}

// benchTry is one request, for callers that may not stop the benchmark
// themselves (RunParallel's).
func benchTry(h http.Handler, token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	// localhost: development mode answers no other host.
	req := httptest.NewRequest(http.MethodPost, "http://localhost/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
		return fmt.Errorf("status %d: %.300s", rec.Code, rec.Body.Bytes())
	}
	return nil
}

func uploadRequests(n int) []map[string]any {
	reqs := make([]map[string]any, n)
	for i := range reqs {
		reqs[i] = map[string]any{"originalName": fmt.Sprintf("photo-%03d.jpg", i), "size": 2 << 20, "contentType": "image/jpeg"}
	}
	return reqs
}

func BenchmarkCreateUploadURLs(b *testing.B) {
	for _, backend := range backends {
		// The pending cap would stop the loop; the check itself still runs.
		e := newEnv(b, backend, "MAX_PENDING_UPLOADS", "1000000000")
		for _, n := range []int{1, 100} {
			vars := map[string]any{"files": uploadRequests(n)}
			b.Run(fmt.Sprintf("%s/files=%d", backend, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchRequest(b, e.srv.Handler, createQ, vars)
				}
			})
		}
	}
}

// BenchmarkCreateUploadURLsOneUser is createUploadUrls by one user from 8
// callers at once (per GOMAXPROCS), who all change the same usage row: the
// time that row stays locked is what they queue for.
func BenchmarkCreateUploadURLsOneUser(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend, "MAX_PENDING_UPLOADS", "1000000000")
		vars := map[string]any{"files": uploadRequests(1)}
		b.Run(backend+"/callers=8", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := benchTry(e.srv.Handler, "", createQ, vars); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkSaveFiles(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend)
		body := randomBytes(1024)
		b.Run(backend+"/files=10", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				reqs := make([]map[string]any, 10)
				for j := range reqs {
					reqs[j] = map[string]any{"originalName": fmt.Sprintf("f%d.bin", j), "size": len(body)}
				}
				urls := e.createUploads(reqs...)
				save := make([]map[string]any, len(urls))
				for j, u := range urls {
					e.put(u, body)
					save[j] = map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
				}
				vars := map[string]any{"files": save}
				b.StartTimer()
				benchRequest(b, e.srv.Handler, saveQ, vars)
			}
		})
	}
}

// BenchmarkDeleteFile is deleteFile of a saved file: its row marked with
// the usage, folder and event rows in one transaction, the object deleted,
// then the row. Each file is uploaded and saved through the API outside
// the timer.
func BenchmarkDeleteFile(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend)
		body := randomBytes(1024)
		b.Run(backend, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				urls := e.createUploads(map[string]any{"originalName": "f.bin", "size": len(body)})
				e.put(urls[0], body)
				var saved struct {
					SaveFiles []struct{ ID string }
				}
				e.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": urls[0].FileName, "originalName": urls[0].OriginalName}}}, &saved)
				if len(saved.SaveFiles) != 1 {
					b.Fatalf("saved %d files", len(saved.SaveFiles))
				}
				b.StartTimer()
				benchRequest(b, e.srv.Handler, deleteQ, map[string]any{"id": saved.SaveFiles[0].ID})
			}
		})
	}
}

// seed inserts n files straight into the database, and sets their owner's
// usage row to match, as the transactions of the API would have.
func seed(b *testing.B, e *env, n int) []*ent.File {
	b.Helper()
	ctx := context.Background()
	var out []*ent.File
	for len(out) < n {
		batch := make([]*ent.FileCreate, min(1000, n-len(out)))
		for i := range batch {
			k := len(out) + i
			batch[i] = e.srv.db.Ent.File.Create().
				SetBucket(e.store.Bucket()).
				SetFileName(fmt.Sprintf("files/seed%027d.bin", k)).
				SetOriginalName(fmt.Sprintf("seed-%d.bin", k)).
				SetSize(int64(k + 1)).
				SetContentType("application/octet-stream").
				SetOwner(auth.LocalUser.ID)
		}
		files, err := e.srv.db.Ent.File.CreateBulk(batch...).Save(ctx)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, files...)
	}
	setUsage(b, e, auth.LocalUser.ID)
	// As autovacuum would, so the planner knows the rows are there.
	if _, err := e.srv.db.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkListFiles(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend)
		seed(b, e, 10_000)
		var first connection
		e.do(listQ, map[string]any{"first": 50}, &first)
		if first.Files.TotalCount != 10_000 || len(first.Files.Edges) != 50 {
			b.Fatalf("seeded listing: %d total, %d edges", first.Files.TotalCount, len(first.Files.Edges))
		}
		middle := map[string]any{"first": 50, "after": first.Files.Edges[49].Cursor}
		b.Run(backend+"/first=50/rows=10000", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequest(b, e.srv.Handler, listQ, middle)
			}
		})
	}
}

func BenchmarkFileDownloadURL(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend)
		f := seed(b, e, 1)[0]
		vars := map[string]any{"id": f.ID.String()}
		b.Run(backend, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequest(b, e.srv.Handler, downloadQ, vars)
			}
		})
	}
	// As in production: a verified bearer token on every request.
	e := newAuthEnv(b, "postgres+s3")
	alice := e.as(token(b, "alice"))
	f := alice.upload("a.txt", "text/plain", []byte("a"))
	vars := map[string]any{"id": f.ID}
	b.Run("postgres+s3/jwt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchRequestAs(b, e.srv.Handler, alice.token, downloadQ, vars)
		}
	})
}

// BenchmarkTelemetry measures what metrics and traces cost per request:
// the same requests through a server without them (bare), with metrics
// (the default), and with metrics and traces sent to a local collector.
func BenchmarkTelemetry(b *testing.B) {
	col := &collector{discard: true}
	hs := httptest.NewServer(col.handler())
	b.Cleanup(hs.Close) // after the servers' cleanups, which send their last spans
	for _, backend := range backends {
		for _, mode := range []string{"bare", "metrics", "metrics+traces"} {
			settings := []string{"MAX_PENDING_UPLOADS", "1000000000", "SWEEP_INTERVAL", "0"}
			var opts []Option
			switch mode {
			case "bare":
				opts = append(opts, func(o *options) { o.bare = true })
			case "metrics+traces":
				settings = append(settings, "OTEL_EXPORTER_OTLP_ENDPOINT", hs.URL)
			}
			e := startEnv(b, backend, false, settings, opts...)
			f := seed(b, e, 100)
			for _, req := range []struct {
				name, query string
				vars        map[string]any
			}{
				{"createUploadUrls", createQ, map[string]any{"files": uploadRequests(1)}},
				{"files(first:50)", listQ, map[string]any{"first": 50}},
				{"fileDownloadUrl", downloadQ, map[string]any{"id": f[0].ID.String()}},
			} {
				b.Run(fmt.Sprintf("%s/%s/%s", backend, req.name, mode), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						benchRequest(b, e.srv.Handler, req.query, req.vars)
					}
				})
			}
		}
	}
}
