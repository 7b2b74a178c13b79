package main

import (
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/internal/testenv"
)

// The process is killed (SIGKILL) while its scans are claimed and clamd
// holds them; a new process takes the jobs over once their lease has run
// out, and the deployment converges: the clean file READY, EICAR INFECTED
// with its object deleted, no job left, reconcile clean.
func TestKilledMidScanConverges(t *testing.T) {
	clamd := testenv.StartClamd(t)
	d := newDeployment(t)
	// A lease of twice 3s: long enough that the kill comes mid-run.
	settings := []string{"SCAN_CLAMD_ADDR=" + clamd.Addr, "PROCESS_JOB_TIMEOUT=3s"}
	p := d.start(settings...)
	clamd.Pause() // scans reach clamd and get no answer
	clean := p.upload(t, "clean.txt", []byte("nothing to see"))
	bad := p.upload(t, "eicar.com", []byte(testenv.EICAR))
	claimed := func() bool {
		var n int
		if err := d.db.QueryRow("SELECT COUNT(*) FROM jobs WHERE attempts >= 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 2
	}
	deadline := time.Now().Add(time.Minute)
	for !claimed() {
		if time.Now().After(deadline) {
			t.Fatalf("the scans were never claimed:\n%s", p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	clamd.Resume()
	status := func(id string) string {
		var s string
		if err := d.db.QueryRow("SELECT status FROM files WHERE id = $1", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s, b := status(clean.ID), status(bad.ID); s != "SCANNING" || b != "SCANNING" {
		t.Fatalf("after the kill: %s, %s; want both SCANNING", s, b)
	}

	q := d.start(settings...)
	// A job ends after its verdict is recorded, once its file owns no
	// more objects than it should.
	jobs := func() int {
		var n int
		if err := d.db.QueryRow("SELECT COUNT(*) FROM jobs").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline = time.Now().Add(time.Minute)
	for status(clean.ID) != "READY" || status(bad.ID) != "INFECTED" || jobs() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("did not converge: %s, %s, %d jobs\n%s", status(clean.ID), status(bad.ID), jobs(), q.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.objectExists(bad.FileName) || !d.objectExists(clean.FileName) {
		t.Errorf("objects: infected %v (want gone), clean %v", d.objectExists(bad.FileName), d.objectExists(clean.FileName))
	}
	out, err := d.command("reconcile")
	if err != nil || !strings.Contains(out, "objects without a row: 0") || !strings.Contains(out, "rows without an object: 0") {
		t.Errorf("reconcile after convergence: %v\n%s", err, out)
	}
}
