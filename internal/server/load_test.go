package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/storage"
)

// TestLoad runs many clients through the whole browser flow at once on
// PostgreSQL and versitygw for a bounded time: ask for a URL, PUT, save,
// list, download and compare, and delete every other file. Each client
// runs at least one flow however slow the machine, and every flow must
// succeed; afterwards storage and database must agree exactly. The rates
// and latencies are only logged: on a shared machine under -race they say
// nothing about the code (bench/load compares them side by side).
// FILEGRAPH_LOAD_DURATION (default 3s) and FILEGRAPH_LOAD_CLIENTS (50) set
// the size; `make load` runs it longer and prints the figures.
func TestLoad(t *testing.T) {
	duration, clients := 3*time.Second, 50
	if v := os.Getenv("FILEGRAPH_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	if v := os.Getenv("FILEGRAPH_LOAD_CLIENTS"); v != "" {
		fmt.Sscan(v, &clients)
	}
	e := newAuthEnv(t, "postgres+s3")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients}, Timeout: 30 * time.Second}

	type sample struct {
		op  string
		dur time.Duration
	}
	var (
		mu      sync.Mutex
		samples []sample
		errs    []error
		kept    = map[string]bool{} // keys that must remain
	)
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		tok := token(t, fmt.Sprintf("user-%d", c)) // on the test goroutine: token may t.Fatal
		wg.Go(func() {
			cl := &loadClient{hc: hc, base: e.URL, token: tok}
			for i := 0; i == 0 || time.Now().Before(deadline); i++ {
				body := fmt.Appendf(nil, "client %d file %d %s", c, i, bytes.Repeat([]byte("x"), i%64))
				timings, key, err := cl.flow(fmt.Sprintf("f-%d-%d.txt", c, i), body, i%2 == 1)
				mu.Lock()
				for op, d := range timings {
					samples = append(samples, sample{op, d})
				}
				if err != nil {
					errs = append(errs, err)
				} else if key != "" {
					kept[key] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	byOp := map[string][]time.Duration{}
	for _, s := range samples {
		byOp[s.op] = append(byOp[s.op], s.dur)
	}
	flows := len(byOp["flow"])
	t.Logf("%d clients, %v: %d flows (%.0f/s), %d operations, %d errors", clients, duration, flows, float64(flows)/duration.Seconds(), len(samples), len(errs))
	for _, op := range []string{"createUploadUrls", "PUT", "saveFiles", "files", "fileDownloadUrl", "GET", "deleteFile", "flow"} {
		ds := byOp[op]
		slices.Sort(ds)
		if len(ds) > 0 {
			t.Logf("  %-16s n=%-6d p50=%-10v p99=%v", op, len(ds), ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)*99/100].Round(10*time.Microsecond))
		}
	}
	if len(errs) == 0 && flows < clients {
		t.Errorf("%d flows completed without an error, fewer than the %d clients that each ran one", flows, clients)
	}

	// Rows and objects match exactly: nothing orphaned, nothing missing.
	r, err := e.srv.Files.Reconcile(auth.WithUser(context.Background(), auth.LocalUser), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Orphans) != 0 || len(r.Missing) != 0 || r.Files != len(kept) || r.Objects != len(kept) {
		t.Errorf("after load: %d files, %d objects, %d kept; orphans %v, missing %v", r.Files, r.Objects, len(kept), r.Orphans, r.Missing)
	}
	checkUsage(t, e)
}

// loadClient is one browser: its own user, the flow as the README shows it.
type loadClient struct {
	hc    *http.Client
	base  string
	token string
}

// flow uploads body, checks it, and deletes it when del is set; it returns
// each step's time and the key when the file stays.
func (c *loadClient) flow(name string, body []byte, del bool) (map[string]time.Duration, string, error) {
	t := map[string]time.Duration{}
	start := time.Now()
	timed := func(op string, f func() error) error {
		s := time.Now()
		err := f()
		t[op] = time.Since(s)
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, name, err)
		}
		return nil
	}
	var created struct {
		CreateUploadUrls []struct {
			FileName, URL, Method string
			Headers               []storage.Header
		}
	}
	if err := timed("createUploadUrls", func() error {
		return c.gql(createQ, map[string]any{"files": []map[string]any{{"originalName": name, "size": len(body), "contentType": "text/plain"}}}, &created)
	}); err != nil {
		return t, "", err
	}
	u := created.CreateUploadUrls[0]
	if err := timed("PUT", func() error {
		req, _ := http.NewRequest(u.Method, u.URL, bytes.NewReader(body))
		for _, h := range u.Headers {
			if h.Name != "Content-Length" {
				req.Header.Set(h.Name, h.Value)
			}
		}
		return c.send(req, nil)
	}); err != nil {
		return t, "", err
	}
	var saved struct{ SaveFiles []fileNode }
	if err := timed("saveFiles", func() error {
		return c.gql(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &saved)
	}); err != nil {
		return t, "", err
	}
	id := saved.SaveFiles[0].ID
	if err := timed("files", func() error { return c.gql(listQ, map[string]any{"first": 10}, nil) }); err != nil {
		return t, "", err
	}
	var dl struct{ FileDownloadUrl struct{ URL string } }
	if err := timed("fileDownloadUrl", func() error { return c.gql(downloadQ, map[string]any{"id": id}, &dl) }); err != nil {
		return t, "", err
	}
	if err := timed("GET", func() error {
		req, _ := http.NewRequest("GET", dl.FileDownloadUrl.URL, nil)
		var got bytes.Buffer
		if err := c.send(req, &got); err != nil {
			return err
		}
		if !bytes.Equal(got.Bytes(), body) {
			return fmt.Errorf("downloaded %d bytes that differ from the %d uploaded", got.Len(), len(body))
		}
		return nil
	}); err != nil {
		return t, "", err
	}
	key := u.FileName
	if del {
		if err := timed("deleteFile", func() error { return c.gql(deleteQ, map[string]any{"id": id}, nil) }); err != nil {
			return t, "", err
		}
		key = ""
	}
	t["flow"] = time.Since(start)
	return t, key, nil
}

func (c *loadClient) gql(query string, vars map[string]any, out any) error {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", c.base+"/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	var buf bytes.Buffer
	if err := c.send(req, &buf); err != nil {
		return err
	}
	var r gqlResponse
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%+v", r.Errors)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

func (c *loadClient) send(req *http.Request, out io.Writer) error {
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	if out == nil {
		out = io.Discard
	}
	_, err = io.Copy(out, res.Body)
	return err
}
