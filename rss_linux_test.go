package main

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// rssLimit is issue 8's bound on the server's resident memory when idle.
const rssLimit = 40 << 20

// TestIdleRSS reads the server's resident memory right after it starts and
// again after a round of every kind of request, on the embedded defaults
// (SQLite and disk) and on PostgreSQL and S3, and fails above 40 MB. The
// figures go to the log. It measures the binary that ships: built as make
// build builds it (make test and make rss run it on make build's own), which
// it checks in the binary's build information.
func TestIdleRSS(t *testing.T) {
	shipped(t, bin)
	for _, mode := range []struct {
		name   string
		deploy func(*testing.T) *deployment
	}{
		{"sqlite+disk", func(t *testing.T) *deployment { d, _ := diskDeployment(t); return d }},
		{"postgres+s3", newDeployment},
	} {
		t.Run(mode.name, func(t *testing.T) {
			// Metrics on, as by default: exercise scrapes them.
			p := mode.deploy(t).start("METRICS_ADDR=127.0.0.1:0")
			started := readRSS(t, p)
			exercise(t, p)
			idle := readRSS(t, p)
			t.Logf("%s: right after start %s; after requests %s", mode.name, started, idle)
			for _, m := range []memory{started, idle} {
				if m.rss > rssLimit {
					t.Errorf("resident memory %s, over %d MB", m, rssLimit>>20)
				}
			}
		})
	}
}

// exercise sends every kind of request a client makes, each checked.
func exercise(t *testing.T, p *process) {
	t.Helper()
	body := bytes.Repeat([]byte("filegraph "), 100)
	var saved []uploaded
	for i := range 3 {
		saved = append(saved, p.upload(t, fmt.Sprintf("f%d.txt", i), body))
	}
	var list struct{ Files struct{ TotalCount int } }
	p.gql(t, `{ files(first: 50) { totalCount edges { cursor node { id fileName originalName size contentType createdAt owner } } pageInfo { endCursor } } }`, nil, &list)
	if list.Files.TotalCount != len(saved) {
		t.Fatalf("listed %d files, want %d", list.Files.TotalCount, len(saved))
	}
	var dl struct{ FileDownloadUrl struct{ URL string } }
	p.gql(t, `query($id: ID!) { fileDownloadUrl(id: $id) { url expiresAt } }`, map[string]any{"id": saved[0].ID}, &dl)
	if got := get(t, dl.FileDownloadUrl.URL); !bytes.Equal(got, body) {
		t.Fatalf("downloaded %d bytes, not the %d uploaded", len(got), len(body))
	}

	var mp struct{ CreateMultipartUploads []struct{ FileName string } }
	p.gql(t, `mutation($f: [MultipartUploadRequest!]!) { createMultipartUploads(files: $f) { fileName partSize partCount } }`,
		map[string]any{"f": []map[string]any{{"originalName": "parts.bin", "size": len(body)}}}, &mp)
	name := mp.CreateMultipartUploads[0].FileName
	var parts struct {
		UploadPartUrls []struct {
			URL, Method string
			Headers     []storage.Header
		}
	}
	p.gql(t, `mutation($n: String!) { uploadPartUrls(fileName: $n, parts: [{partNumber: 1}]) { url method headers { name value } } }`,
		map[string]any{"n": name}, &parts)
	part := parts.UploadPartUrls[0]
	if err := storagetest.SendErr(storage.Request{Method: part.Method, URL: part.URL, Header: part.Headers}, body); err != nil {
		t.Fatal(err)
	}
	p.gql(t, `{ uploads(first: 10) { totalCount edges { node { fileName uploadedParts { partNumber size } } } } }`, nil, nil)
	p.gql(t, `mutation($n: String!) { abortUpload(fileName: $n) }`, map[string]any{"n": name}, nil)
	p.gql(t, `mutation($id: ID!) { deleteFile(id: $id) }`, map[string]any{"id": saved[1].ID}, nil)

	// The playground's page and, when the binary holds them, its files.
	res, err := client.Get(p.base + "/playground/graphiql.js")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	switch {
	case err != nil:
		t.Fatal(err)
	case res.StatusCode == http.StatusOK:
		t.Logf("the playground's files are in the binary (graphiql.js: %d bytes)", n)
	case res.StatusCode == http.StatusNotFound:
		t.Log("the binary holds no playground files (make playground-assets): the shipped one is larger")
	default:
		t.Fatalf("GET /playground/graphiql.js: %d", res.StatusCode)
	}
	metrics := "http://" + loggedAddr(p.out.String(), "metrics.listening") + "/metrics"
	for _, url := range []string{p.base + "/", p.base + "/healthz", p.base + "/readyz", metrics} {
		get(t, url)
	}
}

// shipped fails unless the binary at path was built as make build builds
// it: static and -trimpath (its build information says so) and stripped,
// -ldflags='-s -w' (no symbol table, no DWARF; -trimpath keeps ldflags out
// of the build information). A plain go build is larger and is not what the
// resident memory limit is about.
func shipped(t *testing.T, path string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	var differs []string
	for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if got[key] != want {
			differs = append(differs, fmt.Sprintf("%s=%q", key, got[key]))
		}
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, sec := range f.Sections {
		if sec.Name == ".symtab" || strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
			differs = append(differs, "section "+sec.Name)
		}
	}
	if len(differs) > 0 {
		t.Fatalf("%s is not built as make build builds it (%s): measure make build's binary (make rss, or FILEGRAPH_BIN)", path, strings.Join(differs, ", "))
	}
}

// get fetches url and fails unless it answers 200.
func get(t *testing.T, url string) []byte {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, res.StatusCode, err)
	}
	return b
}

// memory is a process's resident set: in all, and the anonymous part
// (heap, stacks); the rest is mostly the executable's pages.
type memory struct{ rss, anon int64 }

func (m memory) String() string {
	mb := func(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }
	return fmt.Sprintf("%s MB (anonymous %s, file %s)", mb(m.rss), mb(m.anon), mb(m.rss-m.anon))
}

// readRSS reads the process's /proc/PID/smaps_rollup.
func readRSS(t *testing.T, p *process) memory {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("smaps_rollup: %q", line)
		}
		switch f[0] {
		case "Rss:":
			m.rss = kb << 10
		case "Anonymous:":
			m.anon = kb << 10
		}
	}
	if m.rss == 0 {
		t.Fatalf("smaps_rollup has no Rss:\n%s", b)
	}
	return m
}
