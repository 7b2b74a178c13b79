package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegraph/filegraph/internal/storage"
	"github.com/filegraph/filegraph/internal/storage/storagetest"
)

// The process is killed after it completed an upload in parts in the store,
// while its save's transaction waits for the files table; the next save (by
// a new process) returns the file, and storage and database agree. Through
// ent (here: a webhook takes file.saved, whose deliveries are written after
// the events) the transaction is sent statement by statement, so it is cut
// before its commit: no row. In one round trip (database.Saves) the commit
// was sent with the rest, so the transaction either commits whole once the
// table is free or not at all, never in part.
func TestKilledBetweenCompletionAndRow(t *testing.T) {
	t.Run("through ent", func(t *testing.T) {
		killBetweenCompletionAndRow(t, false, "WEBHOOK_URL=http://127.0.0.1:9/hooks", "WEBHOOK_SECRET="+newSecret(),
			"WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_EVENTS=file.saved")
	})
	t.Run("in one round trip", func(t *testing.T) {
		killBetweenCompletionAndRow(t, true)
	})
}

// killBetweenCompletionAndRow is the test above with the servers started
// with settings; whole says the save may have committed.
func killBetweenCompletionAndRow(t *testing.T, whole bool, settings ...string) {
	d := newDeployment(t)
	p := d.start(append([]string{"SWEEP_INTERVAL=0", "PART_SIZE=5MiB"}, settings...)...)
	body := make([]byte, 5<<20+321)
	rand.Read(body)

	var c struct {
		CreateMultipartUploads []struct {
			FileName  string
			PartSize  int64
			PartCount int
		}
	}
	p.gql(t, `mutation($f: [MultipartUploadRequest!]!) { createMultipartUploads(files: $f) { fileName partSize partCount } }`,
		map[string]any{"f": []map[string]any{{"originalName": "big.bin", "size": len(body)}}}, &c)
	m := c.CreateMultipartUploads[0]
	var u struct {
		UploadPartUrls []struct {
			PartNumber  int
			URL, Method string
			Headers     []storage.Header
		}
	}
	p.gql(t, `mutation($n: String!) { uploadPartUrls(fileName: $n, parts: [{partNumber: 1}, {partNumber: 2}]) { partNumber url method headers { name value } } }`,
		map[string]any{"n": m.FileName}, &u)
	parts := storagetest.PartBodies(body, int(m.PartSize))
	for _, part := range u.UploadPartUrls {
		if err := storagetest.SendErr(storage.Request{Method: part.Method, URL: part.URL, Header: part.Headers}, parts[part.PartNumber-1]); err != nil {
			t.Fatal(err)
		}
	}

	// Hold the files table: the save completes the object in the store,
	// then waits to write its row.
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE files IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	save := `{"query":"mutation { saveFiles(files: [{fileName: \"` + m.FileName + `\", originalName: \"big.bin\"}]) { id } }"}`
	go client.Post(p.base+"/query", "application/json", strings.NewReader(save))
	deadline := time.Now().Add(15 * time.Second)
	for !d.objectExists(m.FileName) || !d.waitingOnLock() {
		if time.Now().After(deadline) {
			t.Fatalf("the save did not reach its row: object %v\n%s", d.objectExists(m.FileName), p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Kill() // SIGKILL: no cleanup runs
	p.cmd.Wait()
	tx.Rollback()
	var files, uploads int
	counted := func() {
		t.Helper()
		if err := d.db.QueryRow("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM uploads)").Scan(&files, &uploads); err != nil {
			t.Fatal(err)
		}
	}
	counted()
	if whole {
		// The statement the kill left running ends: committed or not.
		for deadline := time.Now().Add(10 * time.Second); d.waitingOnLock() || d.saveRunning(); {
			if time.Now().After(deadline) {
				t.Fatal("the save's statement still runs 10 s after the kill")
			}
			time.Sleep(20 * time.Millisecond)
		}
		counted()
		if files == 1 && uploads == 0 {
			files, uploads = 0, 1 // committed whole: as good as not at all
		}
	}
	if files != 0 || uploads != 1 {
		t.Fatalf("after the kill: %d file rows, %d upload rows; want 0 and 1 (or, in one round trip, 1 and 0)", files, uploads)
	}
	out, err := s3srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(d.bucket)})
	if err != nil || len(out.Uploads) != 0 {
		t.Fatalf("the store still has uploads in progress: %v %v", out, err)
	}

	q := d.start(append([]string{"SWEEP_INTERVAL=0"}, settings...)...)
	var s struct{ SaveFiles []uploaded }
	q.gql(t, `mutation($f: [SaveFileInput!]!) { saveFiles(files: $f) { id fileName } }`,
		map[string]any{"f": []map[string]any{{"fileName": m.FileName, "originalName": "big.bin"}}}, &s)
	var dl struct{ FileDownloadURL struct{ URL string } }
	q.gql(t, `query($id: ID!) { fileDownloadUrl(id: $id) { url } }`, map[string]any{"id": s.SaveFiles[0].ID}, &dl)
	res, err := client.Get(dl.FileDownloadURL.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(res.Body)
	res.Body.Close()
	if !bytes.Equal(got.Bytes(), body) {
		t.Errorf("the finished file downloads as %d bytes that differ from the %d uploaded", got.Len(), len(body))
	}
	if out, err := d.command("reconcile"); err != nil || !strings.Contains(out, "uploads in parts without a row: 0") {
		t.Errorf("reconcile after the finished save: %v\n%s", err, out)
	}
}

// saveRunning reports whether some session other than the test's own
// runs a statement: the save's, past its wait.
func (d *deployment) saveRunning() bool {
	d.t.Helper()
	var n int
	if err := d.db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()").Scan(&n); err != nil {
		d.t.Fatal(err)
	}
	return n > 0
}

// waitingOnLock reports whether some session waits for a lock: the save's
// insert into the held files table.
func (d *deployment) waitingOnLock() bool {
	d.t.Helper()
	var n int
	if err := d.db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").Scan(&n); err != nil {
		d.t.Fatal(err)
	}
	return n > 0
}
