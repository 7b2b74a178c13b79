package database

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/foldercount"
	"github.com/filegraph/filegraph/ent/metadatapair"
	"github.com/filegraph/filegraph/ent/schema"
	"github.com/filegraph/filegraph/ent/upload"
	"github.com/filegraph/filegraph/internal/files"
)

// Saves on PostgreSQL, over one pooled connection so that every failure
// must have handed it back out of its transaction: a save writes the
// files as ent reads them back (names that need quoting too), their
// metadata pairs, retires the uploads, adds the usage and folder counts
// and writes the events, all at once; an upload missing from the
// retirement (ErrUploadsGone) and a key a file has (ErrKeyTaken) write
// nothing. SQLite has no Saves.
func TestSaves(t *testing.T) {
	ctx := context.Background()
	lite, db := openBoth(t)
	if lite.Saves != nil {
		t.Fatal("SQLite has Saves")
	}

	issue := func(names ...string) []string {
		t.Helper()
		var ups []*ent.Upload
		for _, n := range names {
			ups = append(ups, &ent.Upload{FileName: n, OriginalName: "o", Size: 10, ContentType: "text/plain",
				ExpiresAt: time.Now().Add(time.Hour), Owner: "alice"})
		}
		if ok, err := db.Usages.Issue(ctx, ups, ent.Usage{ID: "alice", PendingCount: int64(len(ups)), PendingBytes: 10 * int64(len(ups))}, 0, 0); err != nil || !ok {
			t.Fatalf("issuing: %v %v", ok, err)
		}
		return names
	}
	save := func(keys []string, fs ...*ent.File) error {
		var evs []files.NewEvent
		for _, f := range fs {
			evs = append(evs, files.NewEvent{PublicID: uuid.New(), Type: "file.saved", FileID: f.ID, Owner: f.Owner,
				Collection: f.Collection, Data: `{}`, CreatedAt: time.Now()})
		}
		n := int64(len(fs))
		return db.Saves.Save(ctx, fs, upload.And(upload.FileNameIn(keys...), upload.Owner("alice")), len(keys),
			[]ent.Usage{{ID: "alice", PendingCount: -n, PendingBytes: -10 * n, SavedCount: n, SavedBytes: 10 * n, FileWrites: 1}},
			[]files.FolderDelta{{Owner: "alice", Collection: "default", Path: "a 'b'", Files: n}}, evs)
	}
	newFile := func(key, name string) *ent.File {
		return &ent.File{ID: file.DefaultID(), Bucket: "b", FileName: key, OriginalName: name, Size: 10, ContentType: "text/plain",
			CreatedAt: time.Now().Truncate(time.Microsecond), Owner: "alice", Folder: "a 'b'",
			Metadata: schema.Metadata{"k": "v'1 $1", "ü": `\`}}
	}
	state := func() string {
		u := db.Ent.Usage.GetX(ctx, "alice")
		return fmt.Sprintf("files %d, pairs %d, uploads %d, events %d, usage %d/%d/%d/%d/%d, folder %d",
			db.Ent.File.Query().CountX(ctx), db.Ent.MetadataPair.Query().CountX(ctx), db.Ent.Upload.Query().CountX(ctx),
			db.Ent.Event.Query().CountX(ctx), u.PendingCount, u.PendingBytes, u.SavedCount, u.SavedBytes, u.FileWrites,
			db.Ent.FolderCount.Query().Where(foldercount.Name("a 'b'")).Aggregate(ent.Sum(foldercount.FieldFileCount)).IntX(ctx))
	}

	keys := issue("files/a", "files/b 'quoted' \\ $2")
	a, b := newFile(keys[0], "a.txt"), newFile(keys[1], "b 'q' \\ $1.txt")
	b.ScanResult = new(string)
	*b.ScanResult = "clean"
	b.Status = file.StatusREADY
	if err := save(keys, a, b); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "files 2, pairs 4, uploads 0, events 2, usage 0/0/2/20/1, folder 2"; got != want {
		t.Errorf("after the save: %s, want %s", got, want)
	}
	for _, f := range []*ent.File{a, b} {
		got := db.Ent.File.GetX(ctx, f.ID)
		got.CreatedAt = got.CreatedAt.In(f.CreatedAt.Location())
		if got.String() != f.String() || fmt.Sprint(got.Metadata) != fmt.Sprint(f.Metadata) || (got.ScanResult == nil) != (f.ScanResult == nil) || got.ScanResult != nil && *got.ScanResult != *f.ScanResult {
			t.Errorf("row written:\n%v %v\nwant\n%v %v", got, got.Metadata, f, f.Metadata)
		}
		if n := db.Ent.MetadataPair.Query().Where(metadatapair.FileID(f.ID), metadatapair.Key("k"), metadatapair.Value("v'1 $1")).CountX(ctx); n != 1 {
			t.Errorf("%s: %d pairs k=v'1 $1, want 1", f.FileName, n)
		}
	}
	if n := db.Ent.Event.Query().Where(event.FileID(a.ID), event.XidGT(0)).CountX(ctx); n != 1 {
		t.Errorf("%d stamped events of a, want 1", n)
	}
	before := state()

	// An upload that is not there to retire: nothing is written.
	keys = issue("files/c")
	c := newFile("files/c", "c.txt")
	if err := save([]string{"files/c", "files/gone"}, c); !errors.Is(err, files.ErrUploadsGone) {
		t.Errorf("a save with an upload gone: %v, want ErrUploadsGone", err)
	}
	// A key a file has: nothing is written.
	again := newFile(a.FileName, "again.txt")
	if err := save(keys, again); !errors.Is(err, files.ErrKeyTaken) {
		t.Errorf("a save of a saved key: %v, want ErrKeyTaken", err)
	}
	if got, want := state(), "files 2, pairs 4, uploads 1, events 2, usage 1/10/2/20/1, folder 2"; got != want || before == got {
		t.Errorf("after two refused saves: %s, want %s", got, want)
	}
	// ent's checks hold: an empty name is refused before anything is sent.
	bad := newFile("files/c", "")
	if err := save(keys, bad); err == nil || db.Ent.File.Query().Where(file.ID(bad.ID)).ExistX(ctx) {
		t.Errorf("a file with an empty name: %v", err)
	}
	// The connection is back out of any transaction: a save works.
	if err := save(keys, c); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "files 3, pairs 6, uploads 0, events 3, usage 0/0/3/30/2, folder 3"; got != want {
		t.Errorf("after the last save: %s, want %s", got, want)
	}
}
