package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/testenv"
)

// diskDeployment is SQLite and disk storage in one DATA_DIR, for processes
// of the real binary to share.
func diskDeployment(t *testing.T) (*deployment, string) {
	dir := t.TempDir()
	// Empty DATABASE_URL and S3_BUCKET: SQLite and disk, whatever the
	// caller's environment says.
	return &deployment{t: t, env: []string{"DATABASE_URL=", "S3_BUCKET=", "DATA_DIR=" + dir, "LOG_LEVEL=info", "METRICS_ADDR=off"}}, dir
}

// slowPut is a disk PUT of a large body that sends its first megabyte and
// then holds the rest back until finish sends it; done reports how it
// ended.
type slowPut struct {
	finish chan struct{}
	done   chan error
}

func (p *process) startSlowPut(t *testing.T, size int) *slowPut {
	t.Helper()
	var c struct {
		CreateUploadUrls []struct {
			FileName, URL, Method string
			Headers               []storage.Header
		}
	}
	p.gql(t, `mutation($f: [UploadRequest!]!) { createUploadUrls(files: $f) { fileName url method headers { name value } } }`,
		map[string]any{"f": []map[string]any{{"originalName": "big.bin", "size": size}}}, &c)
	u := c.CreateUploadUrls[0]
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(u.Method, u.URL, pr)
	req.ContentLength = int64(size)
	for _, h := range u.Headers {
		if h.Name != "Content-Length" {
			req.Header.Set(h.Name, h.Value)
		}
	}
	s := &slowPut{finish: make(chan struct{}), done: make(chan error, 1)}
	stop := make(chan struct{})
	go func() {
		first := min(size, 1<<20)
		if _, err := pw.Write(make([]byte, first)); err != nil {
			return
		}
		select {
		case <-s.finish:
			pw.Write(make([]byte, size-first))
			pw.Close()
		case <-stop:
			pw.CloseWithError(errors.New("test over"))
		}
	}()
	go func() {
		res, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("PUT: %d %s", res.StatusCode, b)
			}
		}
		s.done <- err
	}()
	t.Cleanup(func() { close(stop) })
	return s
}

// waitExit waits for the process to end and returns its exit code.
func (p *process) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("the process did not exit within %v:\n%s", within, p.out)
		return -1
	}
}

// SIGTERM while a large disk PUT is running: after the drain delay and the
// grace, the connection is closed, the upload removes its partial file,
// and the process exits 0 (the documented choice) having logged the cut.
func TestSIGTERMDuringLargePut(t *testing.T) {
	d, dir := diskDeployment(t)
	p := d.start("DRAIN_DELAY=200ms", "SHUTDOWN_GRACE=1s")
	p.startSlowPut(t, 500<<20)
	testenv.WaitFor(t, "the partial upload on disk", func() bool { return len(testenv.TmpFiles(t, dir)) > 0 })

	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	code := p.waitExit(t, 15*time.Second)
	took := time.Since(start)
	t.Logf("exit %d after %v", code, took.Round(10*time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after a drain that ran out of time, want 0:\n%s", code, p.out)
	}
	if took < 1200*time.Millisecond {
		t.Errorf("exited after %v, before DRAIN_DELAY + SHUTDOWN_GRACE", took)
	}
	if !strings.Contains(p.out.String(), "server.shutdown_grace_exceeded") {
		t.Errorf("the cut request was not logged:\n%s", p.out)
	}
	if left := testenv.TmpFiles(t, dir); len(left) > 0 {
		t.Errorf("partial files left after SIGTERM: %v", left)
	}
}

// kill -9 during a large disk PUT leaves its partial file (nothing can run
// then); the next start removes it. A process that dies while another
// runs has its leftovers removed by the other every SWEEP_INTERVAL, which leaves the
// live process's own upload in progress alone.
func TestKilledDuringLargePutLeavesNothing(t *testing.T) {
	d, dir := diskDeployment(t)
	p := d.start("SWEEP_INTERVAL=0")
	p.startSlowPut(t, 300<<20)
	testenv.WaitFor(t, "the partial upload on disk", func() bool { return len(testenv.TmpFiles(t, dir)) > 0 })
	p.cmd.Process.Kill()
	p.waitExit(t, 10*time.Second)
	if len(testenv.TmpFiles(t, dir)) == 0 {
		t.Fatal("the killed upload left nothing: this test shows nothing")
	}

	q := d.start("SWEEP_INTERVAL=200ms")
	if left := testenv.TmpFiles(t, dir); len(left) > 0 {
		t.Errorf("after a restart, partial files are still there: %v", left)
	}

	// A live upload in q, and one in a second process that is killed.
	live := q.startSlowPut(t, 2<<20)
	testenv.WaitFor(t, "q's partial upload", func() bool { return len(testenv.TmpFiles(t, dir)) == 1 })
	mine := testenv.TmpFiles(t, dir)[0]
	r := d.start("SWEEP_INTERVAL=0")
	r.startSlowPut(t, 300<<20)
	testenv.WaitFor(t, "r's partial upload", func() bool { return len(testenv.TmpFiles(t, dir)) == 2 })
	r.cmd.Process.Kill()
	r.waitExit(t, 10*time.Second)
	testenv.WaitFor(t, "q's sweeper to remove what r left", func() bool {
		left := testenv.TmpFiles(t, dir)
		return len(left) == 1 && left[0] == mine
	})
	// Several sweeps later q's own upload is still whole and completes.
	time.Sleep(500 * time.Millisecond)
	close(live.finish)
	if err := <-live.done; err != nil {
		t.Errorf("q's upload after the sweeps: %v", err)
	}
	if left := testenv.TmpFiles(t, dir); len(left) > 0 {
		t.Errorf("left after q's upload: %v", left)
	}
	q.cmd.Process.Kill()
	q.waitExit(t, 10*time.Second) // its output is read once it is done writing it
	if !strings.Contains(q.out.String(), "storage.stale_cleaned") {
		t.Errorf("q did not report the cleanup:\n%s", q.out)
	}
}

// SIGTERM under steady keep-alive traffic, sent as a load balancer does:
// until a readiness poll (every 100ms) says the server is draining. Every
// request sent meanwhile is answered; none meets a refused connection or
// one closed under it ("other side closed"), because the server keeps
// serving for DRAIN_DELAY and asks clients to reconnect.
func TestSIGTERMDrains(t *testing.T) {
	d, _ := diskDeployment(t)
	p := d.start("DRAIN_DELAY=1s", "SHUTDOWN_GRACE=5s")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	var (
		routing             atomic.Bool // the load balancer still sends here
		mu                  sync.Mutex
		answered, afterTerm int
		failed              []string
		terminated          atomic.Bool
	)
	routing.Store(true)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for routing.Load() {
				res, err := hc.Post(p.base+"/query", "application/json", strings.NewReader(`{"query":"{ files { totalCount } }"}`))
				mu.Lock()
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					answered++
					if terminated.Load() {
						afterTerm++
					}
				} else {
					failed = append(failed, err.Error())
				}
				mu.Unlock()
			}
		})
	}
	// Traffic flows before the signal: every client has had an answer.
	testenv.WaitFor(t, "an answer for each client", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return answered >= 20 || len(failed) > 0
	})
	termAt := time.Now()
	terminated.Store(true)
	p.cmd.Process.Signal(syscall.SIGTERM)
	var readyAnswer string
	for routing.Load() {
		time.Sleep(100 * time.Millisecond)
		res, err := client.Get(p.base + "/readyz")
		if err != nil {
			readyAnswer = err.Error()
			routing.Store(false)
			break
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		readyAnswer = fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(b)))
		if res.StatusCode != http.StatusOK {
			routing.Store(false)
		}
	}
	failedAfter := time.Since(termAt)
	wg.Wait()
	code := p.waitExit(t, 15*time.Second)
	t.Logf("readiness failed within %v of SIGTERM (%s); %d requests answered, %d of them after SIGTERM; %d failed; exit %d",
		failedAfter.Round(time.Millisecond), readyAnswer, answered, afterTerm, len(failed), code)
	if !strings.Contains(readyAnswer, "503") || !strings.Contains(readyAnswer, "draining") {
		t.Errorf("readiness after SIGTERM: %s, want 503 draining", readyAnswer)
	}
	if afterTerm == 0 {
		t.Error("no request was answered after SIGTERM")
	}
	if len(failed) > 0 {
		t.Errorf("%d requests failed while the load balancer still sent them, e.g. %v", len(failed), failed[0])
	}
	if code != 0 {
		t.Errorf("exit code %d:\n%s", code, p.out)
	}
}
