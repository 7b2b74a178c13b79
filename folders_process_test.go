package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// folderCounts reads the folder rows (owner|collection|path: count) and
// what the files say they should be: each folder of each file not being
// deleted, and every folder above it.
func (d *deployment) folderCounts() (rows, files string) {
	d.t.Helper()
	read := func(q string) string {
		r, err := d.db.Query(q)
		if err != nil {
			d.t.Fatal(err)
		}
		defer r.Close()
		var out []string
		for r.Next() {
			var k string
			var n int
			if err := r.Scan(&k, &n); err != nil {
				d.t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s=%d", k, n))
		}
		return strings.Join(out, " ")
	}
	rows = read(`SELECT owner || '|' || collection || '|' || CASE WHEN parent = '' THEN name ELSE parent || '/' || name END AS k, file_count FROM folder_counts WHERE file_count <> 0 ORDER BY k`)
	files = read(`SELECT owner || '|' || collection || '|' || array_to_string((string_to_array(folder, '/'))[1:n], '/') AS k, COUNT(*)::int
		FROM files, generate_series(1, cardinality(string_to_array(folder, '/'))) AS n
		WHERE deleted_at IS NULL AND folder <> '' GROUP BY k ORDER BY k`)
	return rows, files
}

// The process is killed in the middle of a batch delete: all the rows are
// marked, one file is wholly gone, one has lost its object only, two still
// have both. A new process's sweeper finishes them; the folder counts are
// those of the files left, and reconcile finds nothing.
func TestKilledMidBatchDeleteConverges(t *testing.T) {
	d := newDeployment(t)
	p := d.start("SWEEP_INTERVAL=0")
	var doomed []uploaded
	for i := range 4 {
		doomed = append(doomed, p.upload(t, fmt.Sprintf("doomed%d.txt", i), []byte("doomed")))
	}
	keep := p.upload(t, "keep.txt", []byte("keep"))
	move := func(id, folder string) {
		p.gql(t, `mutation($id: ID!, $f: String) { updateFile(id: $id, input: {folder: $f}) { id } }`, map[string]any{"id": id, "f": folder}, nil)
	}
	for i, f := range doomed {
		move(f.ID, []string{"a", "a/b", "a/b", "c"}[i])
	}
	move(keep.ID, "a/b")
	if rows, files := d.folderCounts(); rows != "local|default|a=4 local|default|a/b=3 local|default|c=1" || rows != files {
		t.Fatalf("folder counts before: %s; the files say %s", rows, files)
	}

	d.proxy.SetStalled(true) // every DeleteObject call hangs
	ids := make([]string, len(doomed))
	for i, f := range doomed {
		ids[i] = f.ID
	}
	body := fmt.Sprintf(`{"query":"mutation { deleteFiles(ids: [\"%s\"]) }"}`, strings.Join(ids, `\", \"`))
	go client.Post(p.base+"/query", "application/json", strings.NewReader(body))
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range doomed {
		for d.rowState(f.ID) != "deleting" {
			if time.Now().After(deadline) {
				t.Fatalf("the batch never marked %s:\n%s", f.ID, p.out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// What the process could have done before the kill: one file's object
	// and row, another's object.
	for _, f := range doomed[:2] {
		if _, err := s3srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(f.FileName)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.db.Exec(`DELETE FROM files WHERE id = $1`, doomed[0].ID); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Kill() // SIGKILL: no cleanup runs
	p.cmd.Wait()
	d.proxy.SetStalled(false) // the held requests are dropped, not delivered
	if rows, files := d.folderCounts(); rows != "local|default|a=1 local|default|a/b=1" || rows != files {
		t.Errorf("folder counts after the marks: %s; the files say %s", rows, files)
	}

	q := d.start("SWEEP_INTERVAL=100ms", "REQUEST_TIMEOUT=1s")
	var list struct {
		Files   struct{ TotalCount int }
		Folders []struct {
			Path      string
			FileCount int
		}
	}
	q.gql(t, `{ files { totalCount } folders { path fileCount } }`, nil, &list)
	if list.Files.TotalCount != 1 || fmt.Sprint(list.Folders) != "[{a 1}]" {
		t.Errorf("while the batch is unfinished: %d files, folders %v; want 1 file, [{a 1}]", list.Files.TotalCount, list.Folders)
	}
	deadline = time.Now().Add(15 * time.Second)
	for _, f := range doomed {
		for d.rowState(f.ID) != "gone" || d.objectExists(f.FileName) {
			if time.Now().After(deadline) {
				t.Fatalf("did not converge: %s row %s, object %v\n%s", f.ID, d.rowState(f.ID), d.objectExists(f.FileName), q.out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if d.rowState(keep.ID) != "present" || !d.objectExists(keep.FileName) {
		t.Error("the file kept was touched")
	}
	if rows, files := d.folderCounts(); rows != "local|default|a=1 local|default|a/b=1" || rows != files {
		t.Errorf("folder counts after the sweep: %s; the files say %s", rows, files)
	}
	out, err := d.command("reconcile")
	if err != nil || !strings.Contains(out, "objects without a row: 0") || !strings.Contains(out, "rows without an object: 0") {
		t.Errorf("reconcile after convergence: %v\n%s", err, out)
	}
}
