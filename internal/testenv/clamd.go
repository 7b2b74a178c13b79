package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/clamd"
)

// EICAR is the anti-virus test file: harmless, and named by every
// scanner's signatures, here by the one Clamd writes.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// EICARSignature is the name clamd gives EICAR with Clamd's database.
const EICARSignature = "Filegraph.Test.EICAR.UNOFFICIAL"

// Clamd is a running clamd (Debian's clamav-daemon) on a unix socket, with
// a signature database of its own: no signatures can be downloaded here,
// so the database holds one MD5 signature, of EICAR.
type Clamd struct {
	Addr string // unix:/path, as SCAN_CLAMD_ADDR takes it
	dir  string
	args []string
	cmd  *exec.Cmd     // the running clamd, nil when stopped
	done chan struct{} // closed when cmd has exited
}

// StartClamd starts clamd and waits until it answers; t's cleanup stops
// it. clamd missing is an error: `apt-get install clamav-daemon`.
func StartClamd(t testing.TB) *Clamd {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/clamd"); serr != nil {
			t.Fatalf("clamd not found (apt-get install clamav-daemon): %v", err)
		}
		bin = "/usr/sbin/clamd"
	}
	// A unix socket's path is at most 108 bytes: t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	// MD5:size:name; clamd adds .UNOFFICIAL to signatures of its own files.
	hdb := "44d88612fea8a8f36de82e1278abb02f:68:Filegraph.Test.EICAR\n"
	if err := os.WriteFile(filepath.Join(db, "test.hdb"), []byte(hdb), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := fmt.Sprintf(`DatabaseDirectory %s
LocalSocket %s
Foreground yes
User root
LogFile %s
LogVerbose no
StreamMaxLength 200M
MaxScanSize 200M
MaxFileSize 200M
`, db, sock, filepath.Join(dir, "clamd.log"))
	if err := os.WriteFile(filepath.Join(dir, "clamd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Clamd{Addr: "unix:" + sock, dir: dir}
	c.args = []string{bin, "--config-file=" + filepath.Join(dir, "clamd.conf")}
	t.Cleanup(func() { c.Stop(); os.RemoveAll(dir) })
	c.Start(t)
	return c
}

// Start starts clamd (again, after Stop) and waits until it answers.
func (c *Clamd) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(c.args[0], c.args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting clamd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.cmd, c.done = cmd, done
	client, err := clamd.New(c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(c.dir, "clamd.log"))
			c.cmd = nil
			t.Fatalf("clamd exited (%v) before answering:\n%s", cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			c.Stop()
			t.Fatalf("clamd did not answer within 2 minutes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops clamd by its PID (SIGTERM, then SIGKILL after 30s) and waits
// until it has exited; its socket then refuses.
func (c *Clamd) Stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
	os.Remove(c.Addr[len("unix:"):])
}

// Pause stops clamd where it is (SIGSTOP): connections are still accepted
// by the kernel, and nothing answers them, as a clamd that hangs.
func (c *Clamd) Pause() { c.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused clamd go on (SIGCONT).
func (c *Clamd) Resume() { c.cmd.Process.Signal(syscall.SIGCONT) }
