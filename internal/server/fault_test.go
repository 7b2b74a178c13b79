package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/filegraph/filegraph/internal/testenv"
)

func readyz(t *testing.T, e *env) (int, map[string]string) {
	t.Helper()
	res, err := client.Get(e.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// TestStorageDown: while the storage cannot be reached, saves and deletes
// are UNAVAILABLE and change nothing; afterwards the same calls succeed.
func TestStorageDown(t *testing.T) {
	e := newFaultyEnv(t)
	kept := e.upload("kept.txt", "text/plain", []byte("still here"))
	u := e.createUploads(map[string]any{"originalName": "late.txt", "size": 4})[0]
	e.put(u, []byte("late"))
	saveReq := map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "late.txt"}}}

	e.s3Proxy.SetDown(true)
	if body := readyzBecomes(t, e, http.StatusServiceUnavailable); body["storage"] != "unavailable" || body["database"] != "ok" {
		t.Errorf("readyz with storage down: %v", body)
	}
	err := e.fail("UNAVAILABLE", saveQ, saveReq)
	if err.Message == "" || containsAny(err.Message, "127.0.0.1", "dial", "connection") {
		t.Errorf("UNAVAILABLE message leaks details or is empty: %q", err.Message)
	}
	e.fail("UNAVAILABLE", deleteQ, map[string]any{"id": kept.ID})
	// The mark wrote the key's tombstone (its upload URL may still write);
	// the unmark took it back with the mark: the file is live again.
	if n := e.srv.db.Ent.Tombstone.Query().CountX(context.Background()); n != 0 {
		t.Errorf("%d tombstones left by a delete the storage refused", n)
	}
	e.clock.advance(time.Minute) // past the last answer from storage vouching for it
	before := e.srv.db.Ent.Upload.Query().CountX(context.Background())
	e.fail("UNAVAILABLE", createQ, map[string]any{"files": []map[string]any{{"originalName": "new.txt", "size": 1}}})
	if after := e.srv.db.Ent.Upload.Query().CountX(context.Background()); after != before {
		t.Errorf("createUploadUrls with storage down recorded %d uploads", after-before)
	}
	var list connection
	e.do(listQ, nil, &list)
	if list.Files.TotalCount != 1 || list.Files.Edges[0].Node.ID != kept.ID {
		t.Fatalf("after failed save and delete: %+v, want only %s still listed", list.Files, kept.ID)
	}

	e.s3Proxy.SetDown(false)
	readyzBecomes(t, e, http.StatusOK)
	var saved struct{ SaveFiles []fileNode }
	e.do(saveQ, saveReq, &saved)
	if len(saved.SaveFiles) != 1 || saved.SaveFiles[0].Size != 4 {
		t.Errorf("save after recovery: %+v", saved.SaveFiles)
	}
	e.do(deleteQ, map[string]any{"id": kept.ID}, nil)
	checkUsage(t, e)
	if ts := e.srv.db.Ent.Tombstone.Query().AllX(context.Background()); len(ts) != 1 || ts[0].FileName != kept.FileName {
		t.Errorf("tombstones after the delete: %+v, want one for %s", ts, kept.FileName)
	}
}

// TestStorageRefusesServer: a store that answers and refuses (here the
// bucket was deleted under the server) is a misconfiguration, not an
// outage: the client gets INTERNAL_SERVER_ERROR, not "retry later", and the
// log has the store's answer for the operator.
func TestStorageRefusesServer(t *testing.T) {
	e := newEnv(t, "postgres+s3")
	if _, err := s3srv.Client().DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(e.store.Bucket())}); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Minute) // past the last answer from storage vouching for it
	e.fail("INTERNAL_SERVER_ERROR", createQ, map[string]any{"files": []map[string]any{{"originalName": "new.txt", "size": 1}}})
	if logs := e.logs.String(); !strings.Contains(logs, "graphql.internal_error") || !strings.Contains(logs, "NoSuchBucket") {
		t.Errorf("the log does not carry the store's answer:\n%s", logs)
	}
}

// TestClientDisconnect: a client that goes away while its request waits on
// the storage or the database is nobody's failure: nothing about that
// request is logged as an error or an outage.
func TestClientDisconnect(t *testing.T) {
	e := newFaultyEnv(t)
	u := e.createUploads(map[string]any{"originalName": "late.txt", "size": 4})[0]
	e.put(u, []byte("late"))
	for _, tc := range []struct {
		name  string
		proxy *testenv.Proxy
		query string
		vars  map[string]any
	}{
		{"storage", e.s3Proxy, saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "late.txt"}}}},
		{"database", e.pgProxy, listQ, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "disconnect-" + tc.name
			tc.proxy.SetStalled(true)
			ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), requestIDKey{}, id), 500*time.Millisecond)
			_, err := e.send(ctx, tc.query, tc.vars)
			cancel()
			tc.proxy.SetStalled(false) // frees what the stall held, as a restart does
			if err == nil {
				t.Fatal("the request was answered through a stalled proxy")
			}
			lines := requestLog(t, e, id)
			for _, l := range lines {
				if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
					t.Errorf("a client disconnect was logged as a failure: %s", l)
				}
			}
		})
	}
}

// requestLog waits for the request's access log line, which is written once
// its handler has returned, and returns every line logged about it.
func requestLog(t *testing.T, e *env, id string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var lines []string
		done := false
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if slices.Contains(strings.Fields(l), "client_request_id="+id) {
				lines = append(lines, l)
				done = done || strings.Contains(l, "msg=http.request")
			}
		}
		if done {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s did not finish within 30s; its log:\n%s", id, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDatabaseDown: a database outage (a PostgreSQL restart) is UNAVAILABLE
// and /readyz 503, never a crash; the server recovers by itself.
func TestDatabaseDown(t *testing.T) {
	e := newFaultyEnv(t)
	f := e.upload("a.txt", "text/plain", []byte("hello"))

	e.pgProxy.SetDown(true)
	if body := readyzBecomes(t, e, http.StatusServiceUnavailable); body["database"] != "unavailable" {
		t.Errorf("readyz with database down: %v", body)
	}
	e.fail("UNAVAILABLE", listQ, nil)
	e.fail("UNAVAILABLE", downloadQ, map[string]any{"id": f.ID})
	e.fail("UNAVAILABLE", createQ, map[string]any{"files": []map[string]any{{"originalName": "b.txt", "size": 1}}})

	e.pgProxy.SetDown(false)
	readyzBecomes(t, e, http.StatusOK)
	var list connection
	e.do(listQ, nil, &list)
	if list.Files.TotalCount != 1 {
		t.Errorf("after recovery: %d files", list.Files.TotalCount)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestInternalErrorsMasked: an error nobody planned for reaches the client
// as INTERNAL_SERVER_ERROR with a request id, and no detail.
func TestInternalErrorsMasked(t *testing.T) {
	e := newEnv(t, "sqlite+disk")
	e.srv.db.SQL.Close() // a bug: the pool closed under a running server
	err := e.fail("INTERNAL_SERVER_ERROR", listQ, nil)
	if err.Message != "internal server error" {
		t.Errorf("message %q leaks detail", err.Message)
	}
	if id, _ := err.Extensions["requestId"].(string); id == "" {
		t.Errorf("no requestId in %v", err.Extensions)
	}
}

// TestRequestTimeout: a storage that hangs (accepts, never answers) costs a
// request REQUEST_TIMEOUT, then UNAVAILABLE, and changes nothing. (Without
// the timeout the requests would hang until the test client's own minute;
// how long they took is logged, not judged.)
func TestRequestTimeout(t *testing.T) {
	e := newFaultyEnv(t, "REQUEST_TIMEOUT", "1s")
	f := e.upload("a.txt", "text/plain", []byte("hello"))
	u := e.createUploads(map[string]any{"originalName": "b.txt", "size": 1})[0]
	e.put(u, []byte("b"))

	e.s3Proxy.SetStalled(true)
	start := time.Now()
	e.fail("UNAVAILABLE", saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "b.txt"}}})
	e.fail("UNAVAILABLE", deleteQ, map[string]any{"id": f.ID})
	t.Logf("two requests on a hung storage: %v (REQUEST_TIMEOUT 1s each)", time.Since(start))
	e.s3Proxy.SetStalled(false) // what the proxy held is dropped
	var c connection
	e.do(listQ, nil, &c)
	if c.Files.TotalCount != 1 || c.Files.Edges[0].Node.ID != f.ID {
		t.Errorf("after the timeouts: %+v", c.Files)
	}
}
