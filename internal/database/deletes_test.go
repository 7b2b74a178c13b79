package database

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/ent/job"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/testenv"
)

// Deletes on PostgreSQL, over one pooled connection (prepared, as
// DATABASE_PREPARE's are), so that every step after a mark (a commit, a
// rollback, a failed commit) must have handed the connection back out of
// any transaction for the next to work: MarkMany marks only files in
// their marks' scope and not being deleted (another owner's, a missing one
// and a marked one are left out, with nothing written: the other owner's
// job stays; a batch marks each file it names once),
// returns the row as ent reads it with its variants, and cancels its jobs;
// a rollback undoes the mark; Commit writes the tombstones, usage, folder
// counts and events and commits; a commit that fails (a repeated event
// id) writes nothing. RemoveRows takes the rows and their variants' rows once.
// SQLite has no Deletes.
func TestDeletes(t *testing.T) {
	ctx := context.Background()
	lite, db := openBoth(t)
	if lite.Deletes != nil {
		t.Fatal("SQLite has Deletes")
	}
	d := db.Deletes

	newFile := func(owner, name string, jobs int) *ent.File {
		t.Helper()
		f := db.Ent.File.Create().SetBucket("b").SetFileName("files/" + name).SetOriginalName(name + " 'quoted' \\ $1").
			SetSize(100).SetContentType("image/png").SetOwner(owner).SetFolder("a/b").
			SetMetadata(map[string]string{"k": "v'1", "ü": "\\"}).SaveX(ctx)
		for range jobs {
			db.Ent.Job.Create().SetFileID(f.ID).SetKind(job.KindVariants).SetNextAttemptAt(time.Now()).ExecX(ctx)
		}
		return db.Ent.File.GetX(ctx, f.ID)
	}
	alice := newFile("alice", "a.png", 1)
	for _, name := range []string{"thumb", "preview"} {
		db.Ent.FileVariant.Create().SetFileID(alice.ID).SetName(name).SetFileName("files/variants/" + alice.ID.String() + "/" + name + ".jpg").
			SetWidth(10).SetHeight(20).SetContentType("image/jpeg").SetSize(7).ExecX(ctx)
	}
	bob := newFile("bob", "b.png", 1)
	marked := newFile("alice", "m.png", 0)
	db.Ent.File.UpdateOneID(marked.ID).SetDeletedAt(time.Now()).ExecX(ctx)
	at := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	// A mark of one file, as most of deleteFile's batches are.
	markOne := func(id uuid.UUID, owner string) (*ent.File, []*ent.FileVariant, files.MarkTx, error) {
		t.Helper()
		fs, vs, tx, err := d.MarkMany(ctx, []files.Mark{{ID: id, Owner: owner}}, at)
		if len(fs) > 1 || len(vs) > 1 {
			t.Fatalf("a mark of one file marked %v with variants %v", fs, vs)
		}
		if len(fs) == 0 {
			return nil, nil, tx, err
		}
		return fs[0], vs[fs[0].ID], tx, err
	}

	for _, c := range []struct {
		name  string
		id    uuid.UUID
		owner string
	}{{"another owner's", bob.ID, "alice"}, {"missing", uuid.New(), "alice"}, {"marked", marked.ID, "alice"}, {"marked, as admin", marked.ID, ""}} {
		f, vs, tx, err := markOne(c.id, c.owner)
		if err != nil || f != nil || vs != nil || tx != nil {
			t.Fatalf("%s: %v %v %v %v, want nothing", c.name, f, vs, tx, err)
		}
	}
	if n := db.Ent.Job.Query().Where(job.FileID(bob.ID)).CountX(ctx); n != 1 {
		t.Fatalf("bob's file has %d jobs after alice's marks, want 1", n)
	}
	if n := db.Ent.File.Query().Where(file.DeletedAtNotNil()).CountX(ctx); n != 1 {
		t.Fatalf("%d files marked, want 1", n)
	}

	// As admin, then rolled back.
	f, _, tx, err := markOne(bob.ID, "")
	if err != nil || f == nil || f.ID != bob.ID {
		t.Fatalf("admin's mark of bob's file: %v %v", f, err)
	}
	tx.Rollback()
	if got := db.Ent.File.GetX(ctx, bob.ID); got.DeletedAt != nil || db.Ent.Job.Query().Where(job.FileID(bob.ID)).CountX(ctx) != 1 {
		t.Fatalf("bob's file after a rolled-back mark: %+v", got)
	}

	// Alice's, read as ent reads it.
	f, vs, tx, err := markOne(alice.ID, "alice")
	if err != nil || f == nil {
		t.Fatalf("mark: %v %v", f, err)
	}
	if f.DeletedAt == nil || !f.DeletedAt.Equal(at) {
		t.Errorf("marked at %v, want %v", f.DeletedAt, at)
	}
	want := *alice
	want.DeletedAt = f.DeletedAt
	if f.String() != want.String() || !f.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("marked row\n%v\nwant\n%v", f, &want)
	}
	tx.Rollback() // before ent's read: one connection
	wantVs := db.Ent.FileVariant.Query().Where(filevariant.FileID(alice.ID)).Order(ent.Asc(filevariant.FieldID)).AllX(ctx)
	if len(vs) != 2 || len(wantVs) != 2 {
		t.Fatalf("variants %v, want %v", vs, wantVs)
	}
	for i := range vs {
		if vs[i].String() != wantVs[i].String() {
			t.Errorf("variant %d: %v, want %v", i, vs[i], wantVs[i])
		}
	}

	// A batch: each file in its own mark's scope, a file named twice
	// marked once, a missing one left out.
	carol := newFile("carol", "c.png", 1)
	fs, vsByFile, tx, err := d.MarkMany(ctx, []files.Mark{{ID: alice.ID, Owner: "alice"}, {ID: bob.ID, Owner: "alice"}, {ID: uuid.New(), Owner: "alice"},
		{ID: carol.ID, Owner: ""}, {ID: carol.ID, Owner: "carol"}, {ID: marked.ID, Owner: ""}}, at)
	if err != nil || len(fs) != 2 {
		t.Fatalf("batch: %v %v, want alice's and carol's files", fs, err)
	}
	got := map[uuid.UUID]bool{fs[0].ID: true, fs[1].ID: true}
	if !got[alice.ID] || !got[carol.ID] || len(vsByFile) != 1 || len(vsByFile[alice.ID]) != 2 {
		t.Fatalf("batch marked %v with variants %v", fs, vsByFile)
	}
	tx.Rollback()
	for _, f := range []*ent.File{alice, bob, carol} {
		if got := db.Ent.File.GetX(ctx, f.ID); got.DeletedAt != nil || db.Ent.Job.Query().Where(job.FileID(f.ID)).CountX(ctx) != 1 {
			t.Fatalf("%s's file after a rolled-back batch: %+v", f.Owner, got)
		}
	}
	db.Ent.Job.Delete().Where(job.FileID(carol.ID)).ExecX(ctx)
	db.Ent.File.DeleteOneID(carol.ID).ExecX(ctx)

	// A commit that fails writes nothing.
	ev := files.NewEvent{PublicID: uuid.New(), Type: "file.deleted", FileID: alice.ID, Owner: "alice", Collection: "default", Data: `{"n":"'"}`, CreatedAt: at}
	_, _, tx, err = markOne(alice.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ts := []files.Tombstone{{Key: alice.FileName, Until: at}}
	us := []ent.Usage{{ID: "alice", SavedCount: -1, SavedBytes: -114}}
	ds := []files.FolderDelta{{Owner: "alice", Collection: "default", Path: "a", Files: -1}, {Owner: "alice", Collection: "default", Path: "a/b", Files: -1}}
	if err := tx.Commit(ctx, ts, us, ds, []files.NewEvent{ev, ev}); err == nil {
		t.Fatal("a commit with a repeated event id succeeded")
	}
	checkUnmarked := func(when string) {
		t.Helper()
		got := db.Ent.File.GetX(ctx, alice.ID)
		if got.DeletedAt != nil || db.Ent.Job.Query().Where(job.FileID(alice.ID)).CountX(ctx) != 1 ||
			db.Ent.Tombstone.Query().CountX(ctx) != 0 || db.Ent.Event.Query().CountX(ctx) != 0 || db.Ent.Usage.Query().CountX(ctx) != 0 {
			t.Fatalf("%s: the file, its job, tombstones, events or usage changed", when)
		}
	}
	checkUnmarked("after a failed commit")
	// The connection is out of any transaction: ent's begin works.
	etx, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	etx.Rollback()

	// A commit.
	_, _, tx, err = markOne(alice.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, ts, us, ds, []files.NewEvent{ev}); err != nil {
		t.Fatal(err)
	}
	if got := db.Ent.File.GetX(ctx, alice.ID); got.DeletedAt == nil || !got.DeletedAt.Equal(at) {
		t.Errorf("after the commit the row is %+v", got)
	}
	if n := db.Ent.Job.Query().Where(job.FileID(alice.ID)).CountX(ctx); n != 0 {
		t.Errorf("%d jobs left", n)
	}
	if tss := db.Ent.Tombstone.Query().AllX(ctx); len(tss) != 1 || tss[0].FileName != alice.FileName || !tss[0].DeleteAfter.Equal(at) {
		t.Errorf("tombstones %v", tss)
	}
	if u := db.Ent.Usage.GetX(ctx, "alice"); u.SavedCount != -1 || u.SavedBytes != -114 {
		t.Errorf("usage %+v", u)
	}
	if n := db.Ent.FolderCount.Query().CountX(ctx); n != 2 {
		t.Errorf("%d folder counts, want 2", n)
	}
	if got := db.Ent.Event.Query().Where(event.PublicID(ev.PublicID)).OnlyX(ctx); got.Data != ev.Data || got.Xid <= 0 {
		t.Errorf("event %+v", got)
	}
	etx, err = db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	etx.Rollback()

	// The rows go, alice's with its variants, once; a missing id is not
	// reported removed.
	missing := uuid.New()
	for i, want := range []bool{true, false} {
		removed, err := d.RemoveRows(ctx, []uuid.UUID{alice.ID, missing}, []uuid.UUID{alice.ID})
		if err != nil || removed[alice.ID] != want || removed[missing] {
			t.Fatalf("RemoveRows %d: %v %v, want alice's %v", i, removed, err, want)
		}
	}
	if n := db.Ent.FileVariant.Query().CountX(ctx); n != 0 {
		t.Errorf("%d variant rows left", n)
	}
	if removed, err := d.RemoveRows(ctx, []uuid.UUID{marked.ID}, nil); err != nil || !removed[marked.ID] {
		t.Fatalf("RemoveRows without variants: %v %v", removed, err)
	}
	if ids := db.Ent.File.Query().IDsX(ctx); len(ids) != 1 || ids[0] != bob.ID {
		t.Errorf("files left %v, want bob's alone", ids)
	}
}

// A variants run that deletes its job and writes its rows, committing
// while a mark waits for that job's row, has its rows read by the mark:
// the variants are read under a snapshot taken after the jobs' delete,
// not the mark's (one statement would miss them, and the file's variant
// bytes would stay in its owner's usage).
func TestDeletesReadVariantsCommittedWhileWaiting(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	db, err := Open(ctx, pg.URL, "", true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := db.Ent.File.Create().SetBucket("b").SetFileName("files/a.png").SetOriginalName("a.png").
		SetSize(100).SetContentType("image/png").SetOwner("alice").SaveX(ctx)
	db.Ent.Job.Create().SetFileID(f.ID).SetKind(job.KindVariants).SetNextAttemptAt(time.Now()).ExecX(ctx)

	other, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	run, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Rollback()
	if _, err := run.ExecContext(ctx, "DELETE FROM jobs WHERE file_id = $1", f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := run.ExecContext(ctx, `INSERT INTO file_variants (file_id, name, file_name, width, height, content_type, size, created_at)
		VALUES ($1, 'thumb', 'files/variants/t.jpg', 1, 1, 'image/jpeg', 5, now())`, f.ID); err != nil {
		t.Fatal(err)
	}

	type result struct {
		vs  []*ent.FileVariant
		tx  files.MarkTx
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, vs, tx, err := db.Deletes.MarkMany(ctx, []files.Mark{{ID: f.ID, Owner: "alice"}}, time.Now())
		done <- result{vs[f.ID], tx, err}
	}()
	// The mark waits for the run's lock on the job.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := other.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'BEGIN;%'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark never waited for the job's lock")
		}
		select {
		case r := <-done:
			t.Fatalf("the mark returned before the run committed: %v %v", r.vs, r.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := run.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.tx.Rollback()
	if len(r.vs) != 1 || r.vs[0].Name != "thumb" || r.vs[0].Size != 5 {
		t.Errorf("the mark read variants %v, want the thumb committed while it waited", r.vs)
	}
}

// openBoth opens a SQLite database, closed again (to see what it has), and
// a PostgreSQL one over one pooled connection, prepared as
// DATABASE_PREPARE's are, closed when t ends.
func openBoth(t *testing.T) (lite, db *DB) {
	t.Helper()
	ctx := context.Background()
	lite, err := Open(ctx, "", t.TempDir(), true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	pg, err := testenv.NewPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	if db, err = Open(ctx, pg.URL, "", true, quiet, MaxConns(1), Prepare(true)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return lite, db
}
