package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

var (
	s3srv *testenv.S3
	bin   string // the filegraph binary, built once for the package
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "filegraph-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// FILEGRAPH_BIN names a binary built already, to test that build (make
	// test and make rss test make build's, and an older one can be measured
	// beside it). Otherwise the binary is built as make build builds it, so
	// that TestIdleRSS measures what ships (less the playground's files
	// when make playground-assets has not run).
	bin = os.Getenv("FILEGRAPH_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "filegraph")
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building filegraph: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := 1
	defer func() { os.RemoveAll(dir); os.Exit(code) }()
	if s3srv, err = testenv.StartS3(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	code = m.Run()
	s3srv.Close()
}

// deployment is a PostgreSQL database and an S3 bucket (reached through a
// proxy the test can stall), for processes of the real binary to share.
type deployment struct {
	t      *testing.T
	env    []string
	db     *sql.DB
	proxy  *testenv.Proxy
	bucket string
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bucket, err := s3srv.NewBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s3srv.Endpoint)
	proxy, err := testenv.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return &deployment{t: t, db: db, proxy: proxy, bucket: bucket, env: []string{
		"DATABASE_URL=" + pg.URL,
		"S3_BUCKET=" + bucket,
		"S3_ENDPOINT=http://" + proxy.Addr,
		"S3_FORCE_PATH_STYLE=true",
		"S3_REGION=" + s3srv.Region,
		"AWS_ACCESS_KEY_ID=" + s3srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"DATA_DIR=" + t.TempDir(),
		"LOG_LEVEL=warn",
		"METRICS_ADDR=127.0.0.1:0", // processes run side by side
	}}
}

// command runs the binary to completion and returns its output; a command
// that has not finished within a minute is killed and reported, so a
// stalled store or database fails the test instead of hanging it.
func (d *deployment) command(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %v: killed after a minute: %w", filepath.Base(bin), args, err)
	}
	return string(out), err
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	base string
	out  *output
}

// start runs the server with extra settings and waits until it is ready.
func (d *deployment) start(settings ...string) *process {
	d.t.Helper()
	// Port 0: the server takes a free port itself and logs it, so no port
	// is picked here, freed, and raced for.
	p := &process{cmd: exec.Command(bin), out: &output{}}
	p.cmd.Env = append(append(os.Environ(), d.env...), append(append([]string{"LOG_LEVEL=info"}, settings...), "ADDR=127.0.0.1:0")...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if p.base == "" {
			if addr := listeningAddr(p.out.String()); addr != "" {
				p.base = "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("server did not become ready:\n%s", p.out)
		}
		if p.base == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		res, err := client.Get(p.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listeningAddr finds the API's address in the server.listening record.
func listeningAddr(log string) string { return loggedAddr(log, "server.listening") }

// loggedAddr finds the address of the event's log record, in the text or
// the JSON format.
func loggedAddr(log, event string) string {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, event) {
			continue
		}
		if m := regexp.MustCompile(`"?addr"?[=:]"?([^\s",]+)`).FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	return ""
}

// output collects what a process writes, safe to read while it runs.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// gql posts a query and decodes data into out; it fails on any error.
func (p *process) gql(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := client.Post(p.base+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %v %s", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("%s: decoding data %s: %v", query, r.Data, err)
		}
	}
}

type uploaded struct{ ID, FileName string }

// upload runs the browser's flow once: ask, PUT with the returned headers, save.
func (p *process) upload(t *testing.T, name string, body []byte) uploaded {
	t.Helper()
	var c struct {
		CreateUploadUrls []struct {
			FileName, URL, Method string
			Headers               []storage.Header
		}
	}
	p.gql(t, `mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName url method headers { name value } } }`,
		map[string]any{"f": []map[string]any{{"originalName": name, "size": len(body)}}}, &c)
	u := c.CreateUploadUrls[0]
	res := storagetest.Send(t, storage.Request{Method: u.Method, URL: u.URL, Header: u.Headers}, body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	var s struct{ SaveFiles []uploaded }
	p.gql(t, `mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id fileName } }`,
		map[string]any{"f": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &s)
	if len(s.SaveFiles) != 1 {
		t.Fatalf("saveFiles returned %d files, want 1", len(s.SaveFiles))
	}
	return s.SaveFiles[0]
}

// objectExists asks the bucket (not through the stallable proxy) whether
// key is there: S3's NotFound is no; any other error fails the test rather
// than read as "gone".
func (d *deployment) objectExists(key string) bool {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s3srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(key)})
	if _, missing := errors.AsType[*types.NotFound](err); missing {
		return false
	}
	if err != nil {
		d.t.Fatalf("HEAD %s: %v", key, err)
	}
	return true
}

func (d *deployment) rowState(id string) string {
	d.t.Helper()
	var deleting bool
	err := d.db.QueryRow("SELECT deleted_at IS NOT NULL FROM files WHERE id = $1", id).Scan(&deleting)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "gone"
	case err != nil:
		d.t.Fatal(err)
	case deleting:
		return "deleting"
	}
	return "present"
}

// The process is killed while a delete waits on the storage; a new process
// finishes the delete, and the deployment converges: no row, no object.
func TestKilledMidDeleteConverges(t *testing.T) {
	d := newDeployment(t)
	p := d.start("SWEEP_INTERVAL=0")
	f := p.upload(t, "doomed.txt", []byte("doomed"))
	keep := p.upload(t, "keep.txt", []byte("keep"))

	d.proxy.SetStalled(true) // the DeleteObject call hangs
	go client.Post(p.base+"/query", "application/json", strings.NewReader(fmt.Sprintf(`{"query":"mutation { deleteFile(id: \"%s\") }"}`, f.ID)))
	deadline := time.Now().Add(10 * time.Second)
	for d.rowState(f.ID) != "deleting" {
		if time.Now().After(deadline) {
			t.Fatalf("delete never marked the row:\n%s", p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Kill() // SIGKILL: no cleanup runs
	p.cmd.Wait()
	d.proxy.SetStalled(false) // the held request is dropped, not delivered
	if !d.objectExists(f.FileName) || d.rowState(f.ID) != "deleting" {
		t.Fatalf("after the kill: object %v, row %s; want both still there", d.objectExists(f.FileName), d.rowState(f.ID))
	}

	q := d.start("SWEEP_INTERVAL=100ms", "REQUEST_TIMEOUT=1s")
	var list struct{ Files struct{ TotalCount int } }
	q.gql(t, `{ files { totalCount } }`, nil, &list)
	if list.Files.TotalCount != 1 {
		t.Errorf("listed %d files while the delete is unfinished, want 1", list.Files.TotalCount)
	}
	deadline = time.Now().Add(15 * time.Second)
	for d.rowState(f.ID) != "gone" || d.objectExists(f.FileName) {
		if time.Now().After(deadline) {
			t.Fatalf("did not converge: row %s, object %v\n%s", d.rowState(f.ID), d.objectExists(f.FileName), q.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.rowState(keep.ID) != "present" || !d.objectExists(keep.FileName) {
		t.Error("the other file was touched")
	}
	out, err := d.command("reconcile")
	if err != nil || !strings.Contains(out, "objects without a row: 0") || !strings.Contains(out, "rows without an object: 0") {
		t.Errorf("reconcile after convergence: %v\n%s", err, out)
	}
}

// migrate prepares the database as a deploy step; reconcile reports what
// differs, exits non-zero until fixed, and -fix repairs it.
func TestMigrateAndReconcileCommands(t *testing.T) {
	d := newDeployment(t)
	if out, err := d.command("migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	p := d.start("MIGRATE_ON_START=false")
	a := p.upload(t, "a.txt", []byte("aaa"))
	b := p.upload(t, "b.txt", []byte("bbb"))

	ctx := context.Background()
	orphan := "files/0123456789abcdef0123456789abcdef.txt"
	if _, err := s3srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(orphan), Body: strings.NewReader("stray")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3srv.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(b.FileName)}); err != nil {
		t.Fatal(err)
	}

	metrics := filepath.Join(t.TempDir(), "filegraph.prom")
	out, err := d.command("reconcile", "-metrics-file", metrics)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "objects without a row: 1\n  "+orphan) || !strings.Contains(out, "rows without an object: 1\n  "+b.ID) {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	if !d.objectExists(orphan) || d.rowState(b.ID) != "present" {
		t.Fatal("reconcile without -fix changed something")
	}
	prom, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`filegraph_reconcile_found{what="orphans"} 1`, `filegraph_reconcile_found{what="missing"} 1`, `filegraph_reconcile_runs_total{outcome="ok"} 1`} {
		if !strings.Contains(string(prom), want+"\n") {
			t.Errorf("-metrics-file lacks %s:\n%s", want, prom)
		}
	}
	if strings.Contains(string(prom), "go_goroutines") {
		t.Error("-metrics-file carries more than reconcile's series")
	}
	if out, err := d.command("reconcile", "-fix"); err != nil || !strings.Contains(out, "(deleted)") {
		t.Fatalf("reconcile -fix: %v\n%s", err, out)
	}
	if d.objectExists(orphan) || d.rowState(b.ID) != "gone" || d.rowState(a.ID) != "present" || !d.objectExists(a.FileName) {
		t.Fatal("reconcile -fix did not repair exactly the differences")
	}
	if out, err := d.command("reconcile"); err != nil {
		t.Fatalf("reconcile after -fix: %v\n%s", err, out)
	}
}
