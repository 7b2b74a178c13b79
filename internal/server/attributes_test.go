package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/files"
)

// A file's folder and metadata: stored with the upload and the file,
// returned as given, filtered on; and every rule refused with its code,
// field and message.

type attrNode struct {
	ID, OriginalName, Folder string
	Metadata                 map[string]string
}

const attrListQ = `query($where: FileWhereInput, $first: Int) { files(first: $first, where: $where, orderBy: {field: ORIGINAL_NAME, direction: ASC}) {
	totalCount edges { node { id originalName folder metadata } } } }`

// uploadAttrs uploads a small file called name with the request's other
// fields in extra (folder, metadata, ...).
func (e *env) uploadAttrs(name string, extra map[string]any) attrNode {
	e.t.Helper()
	body := []byte("contents of " + name)
	req := map[string]any{"originalName": name, "size": len(body), "contentType": "text/plain"}
	for k, v := range extra {
		req[k] = v
	}
	u := e.createUploads(req)[0]
	e.put(u, body)
	var out struct{ SaveFiles []attrNode }
	e.do(`mutation($files: [SaveFileInput!]!) { saveFiles(files: $files) { id originalName folder metadata } }`,
		map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": name}}}, &out)
	return out.SaveFiles[0]
}

// listAttrs lists the names of the files where matches, by name.
func (e *env) listAttrs(where map[string]any) []string {
	e.t.Helper()
	var out struct {
		Files struct {
			TotalCount int
			Edges      []struct{ Node attrNode }
		}
	}
	e.do(attrListQ, map[string]any{"where": where, "first": 100}, &out)
	names := []string{}
	for _, ed := range out.Files.Edges {
		names = append(names, ed.Node.OriginalName)
	}
	if out.Files.TotalCount != len(names) {
		e.t.Errorf("where %v: totalCount %d, %d listed", where, out.Files.TotalCount, len(names))
	}
	return names
}

func TestMetadataAndFolderRefusals(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			many := map[string]any{}
			for i := range 33 {
				many[fmt.Sprintf("k%02d", i)] = "v"
			}
			big := map[string]any{}
			for i := range 9 {
				big[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1000)
			}
			deep := strings.TrimSuffix(strings.Repeat("d/", 17), "/")
			for _, tt := range []struct {
				name        string
				key         string
				value       any
				field, want string
			}{
				{"KeyCharacters", "metadata", map[string]any{"ok": "1", "bad key!": "v"}, "files[0].metadata.bad key!", `key "bad key!" may hold only letters`},
				{"EmptyKey", "metadata", map[string]any{"": "v"}, `files[0].metadata.""`, "key must not be empty"},
				{"LongKey", "metadata", map[string]any{strings.Repeat("k", 65): "v"}, "files[0].metadata.", "65 bytes long, at most 64"},
				{"LongValue", "metadata", map[string]any{"note": strings.Repeat("v", 1025)}, "files[0].metadata.note", "value is 1025 bytes long, at most 1024"},
				{"NULValue", "metadata", map[string]any{"note": "a\x00b"}, "files[0].metadata.note", "value must not contain NUL"},
				{"TooManyKeys", "metadata", many, "files[0].metadata", "has 33 keys, at most 32"},
				{"TooManyBytes", "metadata", big, "files[0].metadata", "9018 bytes of keys and values, at most 8192"},
				{"LeadingSlash", "folder", "/a", "files[0].folder", "empty segment"},
				{"TrailingSlash", "folder", "a/", "files[0].folder", "empty segment"},
				{"DoubleSlash", "folder", "a//b", "files[0].folder", "empty segment"},
				{"Dot", "folder", "a/./b", "files[0].folder", `"." segment`},
				{"DotDot", "folder", "../etc", "files[0].folder", `".." segment`},
				{"TooDeep", "folder", deep, "files[0].folder", "17 segments, at most 16"},
				{"LongSegment", "folder", "a/" + strings.Repeat("é", 128), "files[0].folder", "segment 2 is 256 bytes long"},
				{"Control", "folder", "a\tb", "files[0].folder", "control characters (U+0009"},
				{"Format", "folder", "a\u202Eb", "files[0].folder", "format characters (U+202E"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					req := map[string]any{"originalName": "a.txt", "size": 10, tt.key: tt.value}
					for _, q := range []string{createQ, `mutation($files: [MultipartUploadRequest!]!) { createMultipartUploads(files: $files) { fileName } }`} {
						err := e.fail("BAD_USER_INPUT", q, map[string]any{"files": []map[string]any{req}})
						problems, _ := err.Extensions["problems"].([]any)
						if len(problems) != 1 {
							t.Fatalf("problems %v, want one", err.Extensions["problems"])
						}
						p := problems[0].(map[string]any)
						if !strings.HasPrefix(p["field"].(string), tt.field) || !strings.Contains(p["message"].(string), tt.want) || !strings.Contains(err.Message, tt.want) {
							t.Errorf("%s: %q, problem %v; want field %s, message with %q", q[:30], err.Message, p, tt.field, tt.want)
						}
					}
				})
			}
			// Not an object of strings: the scalar names the key.
			err := e.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []map[string]any{{"originalName": "a.txt", "size": 10, "metadata": map[string]any{"n": 5}}}})
			if !strings.Contains(err.Message, `"n"`) || !strings.Contains(err.Message, "must be a string") {
				t.Errorf("number value: %q", err.Message)
			}
			err = e.fail("BAD_USER_INPUT", createQ, map[string]any{"files": []map[string]any{{"originalName": "a.txt", "size": 10, "metadata": []any{"x"}}}})
			if !strings.Contains(err.Message, "an object of string values") {
				t.Errorf("array: %q", err.Message)
			}
			// Filters are held to the same rules.
			for _, tt := range []struct {
				where map[string]any
				want  string
			}{
				{map[string]any{"folder": "a//b"}, "where.folder: has an empty segment"},
				{map[string]any{"folderHasPrefix": ".."}, `where.folderHasPrefix: must not have a ".." segment`},
				{map[string]any{"metadata": []any{map[string]any{"key": "a b", "value": "x"}}}, "where.metadata[0].key:"},
				{map[string]any{"and": []any{map[string]any{"metadata": []any{map[string]any{"key": "k", "value": strings.Repeat("v", 1025)}}}}}, "where.metadata[0].value: is 1025 bytes long"},
			} {
				err := e.fail("BAD_USER_INPUT", attrListQ, map[string]any{"where": tt.where})
				if !strings.Contains(err.Message, tt.want) {
					t.Errorf("where %v: %q, want %q", tt.where, err.Message, tt.want)
				}
			}
			// Each pair counts as one condition towards the 500.
			pairs := make([]any, 100)
			for i := range pairs {
				pairs[i] = map[string]any{"key": fmt.Sprintf("k%d", i), "value": "v"}
			}
			ors := make([]any, 5)
			for i := range ors {
				ors[i] = map[string]any{"metadata": pairs}
			}
			err = e.fail("BAD_USER_INPUT", attrListQ, map[string]any{"where": map[string]any{"or": ors}})
			if !strings.Contains(err.Message, "at most 500 are allowed") {
				t.Errorf("505 conditions: %q", err.Message)
			}
			if n := e.srv.db.Ent.Upload.Query().CountX(t.Context()); n != 0 {
				t.Errorf("%d uploads recorded by refused requests", n)
			}
		})
	}
}

func TestMetadataAndFolderFilters(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			files := map[string]attrNode{}
			for _, f := range []struct {
				name   string
				folder any
				meta   any
			}{
				{"root.txt", nil, nil},
				{"a.txt", "a", map[string]any{"ticket": "T-1", "kind": "invoice"}},
				{"ab.txt", "ab", map[string]any{"ticket": "T-1", "kind": "receipt"}},
				{"A-upper.txt", "A", map[string]any{"ticket": "t-1"}},
				{"deep.txt", "a/b/c", map[string]any{"ticket": "T-2", "kind": "invoice", "dotted.key-1": "x y"}},
				{"nfd.txt", "cafe\u0301", map[string]any{"ticket": "T-1", "kind": "invoice"}},
				// Folders beside a's range in byte order ('-' and '.' come
				// before '/', '0' after it), which folderHasPrefix a leaves.
				{"zdash.txt", "a-x", nil},
				{"zdot.txt", "a.b/c", nil},
				{"zzero.txt", "a0", nil},
			} {
				extra := map[string]any{}
				if f.folder != nil {
					extra["folder"] = f.folder
				}
				if f.meta != nil {
					extra["metadata"] = f.meta
				}
				files[f.name] = e.uploadAttrs(f.name, extra)
			}
			// Returned as given; {} and the root when none; NFC stored.
			if got := files["deep.txt"]; got.Folder != "a/b/c" || len(got.Metadata) != 3 || got.Metadata["dotted.key-1"] != "x y" {
				t.Errorf("deep.txt saved as %+v", got)
			}
			if got := files["root.txt"]; got.Folder != "" || got.Metadata == nil || len(got.Metadata) != 0 {
				t.Errorf("root.txt saved as %+v, want folder \"\" and metadata {}", got)
			}
			if got := files["nfd.txt"].Folder; got != "caf\u00e9" {
				t.Errorf("NFD folder stored as %q, want NFC", got)
			}
			pair := func(k, v string) map[string]any { return map[string]any{"key": k, "value": v} }
			for _, tt := range []struct {
				name  string
				where map[string]any
				want  []string
			}{
				{"one pair", map[string]any{"metadata": []any{pair("ticket", "T-1")}}, []string{"a.txt", "ab.txt", "nfd.txt"}},
				{"two pairs", map[string]any{"metadata": []any{pair("ticket", "T-1"), pair("kind", "invoice")}}, []string{"a.txt", "nfd.txt"}},
				{"three pairs", map[string]any{"metadata": []any{pair("ticket", "T-2"), pair("kind", "invoice"), pair("dotted.key-1", "x y")}}, []string{"deep.txt"}},
				{"case matters", map[string]any{"metadata": []any{pair("ticket", "t-1")}}, []string{"A-upper.txt"}},
				{"no match", map[string]any{"metadata": []any{pair("ticket", "T-1"), pair("kind", "nothing")}}, []string{}},
				{"absent key", map[string]any{"metadata": []any{pair("missing", "")}}, []string{}},
				{"empty list", map[string]any{"metadata": []any{}}, []string{"A-upper.txt", "a.txt", "ab.txt", "deep.txt", "nfd.txt", "root.txt", "zdash.txt", "zdot.txt", "zzero.txt"}},
				{"with a name term", map[string]any{"metadata": []any{pair("ticket", "T-1")}, "originalNameHasPrefix": "a"}, []string{"a.txt", "ab.txt"}},
				{"in or", map[string]any{"or": []any{
					map[string]any{"metadata": []any{pair("kind", "receipt")}},
					map[string]any{"metadata": []any{pair("ticket", "T-2")}},
				}}, []string{"ab.txt", "deep.txt"}},
				{"in not", map[string]any{"not": map[string]any{"metadata": []any{pair("ticket", "T-1")}}}, []string{"A-upper.txt", "deep.txt", "root.txt", "zdash.txt", "zdot.txt", "zzero.txt"}},
				{"folder", map[string]any{"folder": "a"}, []string{"a.txt"}},
				{"root folder", map[string]any{"folder": ""}, []string{"root.txt"}},
				{"folder NFD asked", map[string]any{"folder": "cafe\u0301"}, []string{"nfd.txt"}},
				{"folder prefix", map[string]any{"folderHasPrefix": "a"}, []string{"a.txt", "deep.txt"}},
				{"folder prefix deeper", map[string]any{"folderHasPrefix": "a/b"}, []string{"deep.txt"}},
				{"folder prefix is exact", map[string]any{"folderHasPrefix": "A"}, []string{"A-upper.txt"}},
				{"folder prefix in not", map[string]any{"not": map[string]any{"folderHasPrefix": "a"}}, []string{"A-upper.txt", "ab.txt", "nfd.txt", "root.txt", "zdash.txt", "zdot.txt", "zzero.txt"}},
				{"folder prefix of a dotted name", map[string]any{"folderHasPrefix": "a.b"}, []string{"zdot.txt"}},
				{"folder prefix multibyte", map[string]any{"folderHasPrefix": "caf\u00e9"}, []string{"nfd.txt"}},
				{"folder prefix of all", map[string]any{"folderHasPrefix": ""}, []string{"A-upper.txt", "a.txt", "ab.txt", "deep.txt", "nfd.txt", "root.txt", "zdash.txt", "zdot.txt", "zzero.txt"}},
				{"folder and metadata", map[string]any{"folderHasPrefix": "a", "metadata": []any{pair("kind", "invoice")}}, []string{"a.txt", "deep.txt"}},
			} {
				if got := e.listAttrs(tt.where); !slices.Equal(got, tt.want) {
					t.Errorf("%s: listed %v, want %v", tt.name, got, tt.want)
				}
			}
			checkPairs(t, e, 10)
			// The filter follows updateFile's metadata (and only it) and
			// deleteFiles: the pairs are replaced with the metadata and go
			// with the file.
			var up struct{ UpdateFile attrNode }
			e.do(updateQ, map[string]any{"id": files["a.txt"].ID, "in": map[string]any{"metadata": map[string]any{"ticket": "T-9", "kind": "invoice"}}}, &up)
			e.do(updateQ, map[string]any{"id": files["nfd.txt"].ID, "in": map[string]any{"originalName": "nfd-renamed.txt", "folder": "b"}}, &up)
			e.do(updateQ, map[string]any{"id": files["deep.txt"].ID, "in": map[string]any{"metadata": map[string]any{}}}, &up)
			e.do(updateQ, map[string]any{"id": files["root.txt"].ID, "in": map[string]any{"metadata": map[string]any{"ticket": "T-1"}}}, &up)
			checkPairs(t, e, 8)
			var deleted struct{ DeleteFiles []string }
			e.do(deleteManyQ, map[string]any{"ids": []string{files["ab.txt"].ID}}, &deleted)
			checkPairs(t, e, 6)
			for _, tt := range []struct {
				name  string
				where map[string]any
				want  []string
			}{
				{"one pair after updates", map[string]any{"metadata": []any{pair("ticket", "T-1")}}, []string{"nfd-renamed.txt", "root.txt"}},
				{"new value", map[string]any{"metadata": []any{pair("ticket", "T-9"), pair("kind", "invoice")}}, []string{"a.txt"}},
				{"emptied metadata", map[string]any{"metadata": []any{pair("ticket", "T-2")}}, []string{}},
				{"deleted file", map[string]any{"metadata": []any{pair("kind", "receipt")}}, []string{}},
				{"in not after updates", map[string]any{"not": map[string]any{"metadata": []any{pair("kind", "invoice")}}}, []string{"A-upper.txt", "deep.txt", "root.txt", "zdash.txt", "zdot.txt", "zzero.txt"}},
			} {
				if got := e.listAttrs(tt.where); !slices.Equal(got, tt.want) {
					t.Errorf("%s: listed %v, want %v", tt.name, got, tt.want)
				}
			}
		})
	}
}

// checkPairs compares the metadata_pairs rows, which the listing's
// metadata filter reads, with the files' metadata: one row per pair of
// each file, with the file's owner and created_at; want rows in all.
func checkPairs(t testing.TB, e *env, want int) {
	t.Helper()
	ctx := t.Context()
	fromFiles := map[string]bool{}
	rows, err := e.srv.db.SQL.QueryContext(ctx, `SELECT id, metadata FROM files`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, meta string
		if err := rows.Scan(&id, &meta); err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(meta), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			fromFiles[id+"|"+k+"|"+v] = true
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	pairs := map[string]bool{}
	rows, err = e.srv.db.SQL.QueryContext(ctx, `SELECT file_id, key, value FROM metadata_pairs`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			t.Fatal(err)
		}
		pairs[id+"|"+k+"|"+v] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(pairs, fromFiles) || len(pairs) != want {
		t.Errorf("metadata pairs %v, the files say %v (want %d)", slices.Sorted(maps.Keys(pairs)), slices.Sorted(maps.Keys(fromFiles)), want)
	}
	var matching int
	if err := e.srv.db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM metadata_pairs p JOIN files f
		ON f.id = p.file_id AND f.owner = p.owner AND f.created_at = p.created_at`).Scan(&matching); err != nil {
		t.Fatal(err)
	}
	if matching != len(pairs) {
		t.Errorf("%d of %d metadata pairs carry their file's owner and created_at", matching, len(pairs))
	}
}

// checkFolders compares every folder row with the files it counts: each
// folder of each file not being deleted, and the folders above it.
func checkFolders(t testing.TB, e *env) {
	t.Helper()
	want := map[string]int64{}
	rows, err := e.srv.db.SQL.QueryContext(t.Context(), `SELECT owner, collection, folder FROM files WHERE deleted_at IS NULL AND folder <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var owner, coll, folder string
		if err := rows.Scan(&owner, &coll, &folder); err != nil {
			t.Fatal(err)
		}
		segs := strings.Split(folder, "/")
		for i := range segs {
			want[owner+"|"+coll+"|"+strings.Join(segs[:i+1], "/")]++
		}
	}
	rows.Close()
	got := map[string]int64{}
	rows, err = e.srv.db.SQL.QueryContext(t.Context(), `SELECT owner, collection, parent, name, file_count FROM folder_counts WHERE file_count <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var owner, coll, parent, name string
		var n int64
		if err := rows.Scan(&owner, &coll, &parent, &name, &n); err != nil {
			t.Fatal(err)
		}
		p := name
		if parent != "" {
			p = parent + "/" + name
		}
		got[owner+"|"+coll+"|"+p] = n
	}
	rows.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("folder counts %v, the files say %v", got, want)
	}
}

type folderRow struct {
	Path, Name string
	FileCount  int
}

func (e *env) folders(parent any) []folderRow {
	e.t.Helper()
	var out struct{ Folders []folderRow }
	vars := map[string]any{}
	q := `{ folders { path name fileCount } }`
	if parent != nil {
		q = `query($p: String) { folders(parent: $p) { path name fileCount } }`
		vars["p"] = parent
	}
	e.do(q, vars, &out)
	return out.Folders
}

const (
	updateQ     = `mutation($id: ID!, $in: UpdateFileInput!) { updateFile(id: $id, input: $in) { id originalName folder metadata } }`
	deleteManyQ = `mutation($ids: [ID!]!) { deleteFiles(ids: $ids) }`
)

// Folder listings count what uploads, moves, renames and deletes leave,
// per user; a move touches no object; a rename changes the name downloads
// carry; updateFile and deleteFiles refuse what they must.
func TestFoldersUpdateAndDeleteFiles(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			a1 := alice.uploadAttrs("a1.txt", map[string]any{"folder": "docs"})
			a2 := alice.uploadAttrs("a2.txt", map[string]any{"folder": "docs/2026"})
			a3 := alice.uploadAttrs("a3.txt", map[string]any{"folder": "docs/2026/dec"})
			a4 := alice.uploadAttrs("a4.txt", map[string]any{"folder": "photos"})
			alice.uploadAttrs("a5.txt", nil)
			b1 := bob.uploadAttrs("b1.txt", map[string]any{"folder": "docs"})
			checkFolders(t, e)
			if got := fmt.Sprint(alice.folders(nil)); got != "[{docs docs 3} {photos photos 1}]" {
				t.Errorf("alice's root: %s", got)
			}
			if got := fmt.Sprint(alice.folders("docs")); got != "[{docs/2026 2026 2}]" {
				t.Errorf("alice's docs: %s", got)
			}
			if got := fmt.Sprint(alice.folders("docs/2026")); got != "[{docs/2026/dec dec 1}]" {
				t.Errorf("alice's docs/2026: %s", got)
			}
			if got := fmt.Sprint(bob.folders("")); got != "[{docs docs 1}]" {
				t.Errorf("bob's root: %s", got)
			}
			if got := alice.folders("nothing/here"); len(got) != 0 {
				t.Errorf("an empty folder lists %v", got)
			}

			// Move, rename and new metadata at once; the key stays.
			var up struct{ UpdateFile attrNode }
			alice.do(updateQ, map[string]any{"id": a3.ID, "in": map[string]any{"folder": "photos/old", "originalName": "renamed.txt", "metadata": map[string]any{"k": "v"}}}, &up)
			if u := up.UpdateFile; u.Folder != "photos/old" || u.OriginalName != "renamed.txt" || u.Metadata["k"] != "v" {
				t.Errorf("updated to %+v", u)
			}
			// A field left out keeps its value; {} clears metadata.
			up = struct{ UpdateFile attrNode }{} // json would merge into the old map
			alice.do(updateQ, map[string]any{"id": a3.ID, "in": map[string]any{"originalName": "renamed again.txt"}}, &up)
			if u := up.UpdateFile; u.Folder != "photos/old" || u.Metadata["k"] != "v" {
				t.Errorf("a rename alone changed more: %+v", u)
			}
			up = struct{ UpdateFile attrNode }{}
			alice.do(updateQ, map[string]any{"id": a3.ID, "in": map[string]any{"metadata": map[string]any{}}}, &up)
			if len(up.UpdateFile.Metadata) != 0 {
				t.Errorf("metadata {} left %v", up.UpdateFile.Metadata)
			}
			alice.do(updateQ, map[string]any{"id": a1.ID, "in": map[string]any{"folder": ""}}, &up)
			checkFolders(t, e)
			if got := fmt.Sprint(alice.folders(nil)); got != "[{docs docs 1} {photos photos 2}]" {
				t.Errorf("alice's root after moves: %s", got)
			}
			if got := fmt.Sprint(alice.folders("docs")); got != "[{docs/2026 2026 1}]" {
				t.Errorf("alice's docs after moves: %s", got)
			}

			// The download carries the new name.
			var d struct{ FileDownloadUrl struct{ URL string } }
			alice.do(downloadQ, map[string]any{"id": a3.ID}, &d)
			res, err := client.Get(d.FileDownloadUrl.URL)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if cd := res.Header.Get("Content-Disposition"); res.StatusCode != 200 || !strings.Contains(cd, "renamed again.txt") && !strings.Contains(cd, "renamed%20again.txt") {
				t.Errorf("download after rename: %d, Content-Disposition %q", res.StatusCode, cd)
			}

			// Another user's file is not there to update or delete.
			bob.fail("NOT_FOUND", updateQ, map[string]any{"id": a2.ID, "in": map[string]any{"originalName": "mine.txt"}})
			for _, tt := range []struct {
				in          map[string]any
				field, want string
			}{
				{map[string]any{"originalName": ""}, "input.originalName", "must not be empty"},
				{map[string]any{"originalName": "a\u202Eb"}, "input.originalName", "format characters"},
				{map[string]any{"folder": "a/../b"}, "input.folder", `".." segment`},
				{map[string]any{"metadata": map[string]any{"bad key": "v"}}, "input.metadata.bad key", "may hold only"},
			} {
				err := alice.fail("BAD_USER_INPUT", updateQ, map[string]any{"id": a2.ID, "in": tt.in})
				if !strings.Contains(err.Message, tt.field+": ") || !strings.Contains(err.Message, tt.want) {
					t.Errorf("update %v: %q, want %s: ...%s", tt.in, err.Message, tt.field, tt.want)
				}
			}

			// Batch delete: one id not alice's refuses the whole call, naming it.
			missing := "0193a6f4-0000-7000-8000-00000000dead"
			nf := alice.fail("NOT_FOUND", deleteManyQ, map[string]any{"ids": []string{a2.ID, b1.ID, a4.ID, missing}})
			if !strings.Contains(nf.Message, b1.ID) || !strings.Contains(nf.Message, missing) || strings.Contains(nf.Message, a2.ID) {
				t.Errorf("refusal %q should name %s and %s only", nf.Message, b1.ID, missing)
			}
			if ids, _ := nf.Extensions["ids"].([]any); len(ids) != 2 {
				t.Errorf("extensions.ids %v", nf.Extensions["ids"])
			}
			if got := alice.listAttrs(nil); len(got) != 5 {
				t.Errorf("after a refused batch alice has %v", got)
			}
			if got := bob.listAttrs(nil); len(got) != 1 {
				t.Errorf("after a refused batch bob has %v", got)
			}
			many := make([]string, 101)
			for i := range many {
				many[i] = missing
			}
			if err := alice.fail("BAD_USER_INPUT", deleteManyQ, map[string]any{"ids": many}); !strings.Contains(err.Message, "101 ids, at most 100") {
				t.Errorf("101 ids: %q", err.Message)
			}
			alice.fail("BAD_USER_INPUT", deleteManyQ, map[string]any{"ids": []string{}})

			var del struct{ DeleteFiles []string }
			alice.do(deleteManyQ, map[string]any{"ids": []string{a2.ID, a4.ID, a2.ID}}, &del)
			if fmt.Sprint(del.DeleteFiles) != fmt.Sprint([]string{a2.ID, a4.ID}) {
				t.Errorf("deleteFiles returned %v", del.DeleteFiles)
			}
			checkFolders(t, e)
			checkUsage(t, e)
			if got := fmt.Sprint(alice.folders(nil)); got != "[{photos photos 1}]" {
				t.Errorf("alice's root after deletes: %s", got)
			}
			if got := alice.listAttrs(nil); fmt.Sprint(got) != "[a1.txt a5.txt renamed again.txt]" {
				t.Errorf("alice's files after deletes: %v", got)
			}
			alice.fail("NOT_FOUND", deleteManyQ, map[string]any{"ids": []string{a2.ID}})
			alice.fail("NOT_FOUND", updateQ, map[string]any{"id": a2.ID, "in": map[string]any{"folder": "x"}})
			for _, id := range []string{a2.ID, a4.ID} {
				var gone struct{ Node *struct{ ID string } }
				alice.do(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &gone)
				if gone.Node != nil {
					t.Errorf("deleted file %s still resolves", id)
				}
			}
			// Bad parents are refused.
			if err := alice.fail("BAD_USER_INPUT", `{ folders(parent: "a//b") { path } }`, nil); !strings.Contains(err.Message, "parent: has an empty segment") {
				t.Errorf("bad parent: %q", err.Message)
			}
		})
	}
}

// A folder holds files of several collections: folders(collection:) counts
// one, folders() all of them, and the files listing takes collection with
// folder terms.
func TestFoldersByCollection(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newCollectionsEnv(t, backend)
			e.uploadAttrs("d1.txt", map[string]any{"folder": "work/2026", "collection": "documents"})
			e.uploadAttrs("d2.txt", map[string]any{"folder": "work", "collection": "documents"})
			e.uploadAttrs("p1.txt", map[string]any{"folder": "work/2026"})
			e.uploadAttrs("p2.txt", map[string]any{"folder": "play"})
			checkFolders(t, e)
			byColl := func(parent string, coll any) string {
				var out struct{ Folders []folderRow }
				e.do(`query($p: String, $c: String) { folders(parent: $p, collection: $c) { path name fileCount } }`, map[string]any{"p": parent, "c": coll}, &out)
				return fmt.Sprint(out.Folders)
			}
			for _, tt := range []struct {
				parent string
				coll   any
				want   string
			}{
				{"", nil, "[{play play 1} {work work 3}]"},
				{"", "documents", "[{work work 2}]"},
				{"", "default", "[{play play 1} {work work 1}]"},
				{"", "avatars", "[]"},
				{"work", nil, "[{work/2026 2026 2}]"},
				{"work", "documents", "[{work/2026 2026 1}]"},
			} {
				if got := byColl(tt.parent, tt.coll); got != tt.want {
					t.Errorf("folders(parent: %q, collection: %v) = %s, want %s", tt.parent, tt.coll, got, tt.want)
				}
			}
			if got := e.listAttrs(map[string]any{"collection": "documents", "folderHasPrefix": "work"}); fmt.Sprint(got) != "[d1.txt d2.txt]" {
				t.Errorf("documents under work: %v", got)
			}
			if got := e.listAttrs(map[string]any{"collection": "default", "folder": "work/2026"}); fmt.Sprint(got) != "[p1.txt]" {
				t.Errorf("default in work/2026: %v", got)
			}
			if err := e.fail("BAD_USER_INPUT", `{ folders(collection: "a\u0000b") { path } }`, nil); !strings.Contains(err.Message, "collection: ") {
				t.Errorf("a NUL in collection: %q", err.Message)
			}
		})
	}
}

// TestFilteredCountsAndPages: a listing filtered only by folderHasPrefix
// counts from the folder counts and one only by a metadata pair from the
// pairs (files.countFiltered), and a page after or before a cursor in
// created_at order reads the pairs from the cursor on (file.WithPageBound):
// every page, both directions, first and last, must be the unpaged list's
// slice with the whole count, other users' files and files being deleted
// left out.
func TestFilteredCountsAndPages(t *testing.T) {
	const pageQ = `query($where: FileWhereInput, $first: Int, $after: Cursor, $last: Int, $before: Cursor, $dir: OrderDirection!) {
		files(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: $dir}) {
		totalCount edges { cursor node { originalName } } } }`
	type page struct {
		Files struct {
			TotalCount int
			Edges      []struct {
				Cursor string
				Node   struct{ OriginalName string }
			}
		}
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			ids := map[string]string{}
			for i := range 9 {
				extra := map[string]any{"folder": []string{"w/x", "w", "wx"}[i%3], "metadata": map[string]any{"kind": []string{"a", "b"}[i%2]}}
				name := fmt.Sprintf("f%d.txt", i)
				ids[name] = alice.uploadAttrs(name, extra).ID
				bob.uploadAttrs("bob-"+name, extra)
			}
			pair := func(k, v string) []any { return []any{map[string]any{"key": k, "value": v}} }
			// all lists where's files in dir order in pages of 2 going
			// forwards (first/after) and backwards (last/before), checking
			// each page's count, and returns the forward list.
			all := func(where map[string]any, dir string, want int) []string {
				t.Helper()
				var fwd []string
				var after any
				for range 20 {
					var p page
					alice.do(pageQ, map[string]any{"where": where, "first": 2, "after": after, "dir": dir}, &p)
					if p.Files.TotalCount != want {
						t.Errorf("where %v %s after %v: totalCount %d, want %d", where, dir, after, p.Files.TotalCount, want)
					}
					for _, ed := range p.Files.Edges {
						fwd = append(fwd, ed.Node.OriginalName)
					}
					if len(p.Files.Edges) < 2 {
						break
					}
					after = p.Files.Edges[len(p.Files.Edges)-1].Cursor
				}
				var back []string
				var before any
				for range 20 {
					var p page
					alice.do(pageQ, map[string]any{"where": where, "last": 2, "before": before, "dir": dir}, &p)
					if p.Files.TotalCount != want {
						t.Errorf("where %v %s before %v: totalCount %d, want %d", where, dir, before, p.Files.TotalCount, want)
					}
					var names []string
					for _, ed := range p.Files.Edges {
						names = append(names, ed.Node.OriginalName)
					}
					back = append(names, back...)
					if len(p.Files.Edges) < 2 {
						break
					}
					before = p.Files.Edges[0].Cursor
				}
				if !slices.Equal(fwd, back) || len(fwd) != want {
					t.Errorf("where %v %s: forwards %v, backwards %v, want %d files", where, dir, fwd, back, want)
				}
				return fwd
			}
			names := func(is ...int) []string {
				var out []string
				for _, i := range is {
					out = append(out, fmt.Sprintf("f%d.txt", i))
				}
				return out
			}
			for _, tt := range []struct {
				where map[string]any
				want  []string // oldest first
			}{
				{map[string]any{"metadata": pair("kind", "a")}, names(0, 2, 4, 6, 8)},
				{map[string]any{"metadata": pair("kind", "b")}, names(1, 3, 5, 7)},
				{map[string]any{"metadata": pair("kind", "c")}, nil},
				{map[string]any{"folderHasPrefix": "w"}, names(0, 1, 3, 4, 6, 7)},
				{map[string]any{"folderHasPrefix": "w/x"}, names(0, 3, 6)},
				{map[string]any{"folderHasPrefix": "wx"}, names(2, 5, 8)},
				{map[string]any{"folderHasPrefix": "none"}, nil},
				{map[string]any{"folderHasPrefix": ""}, names(0, 1, 2, 3, 4, 5, 6, 7, 8)},
				{map[string]any{"not": map[string]any{"metadata": pair("kind", "a")}}, names(1, 3, 5, 7)},
				{map[string]any{"or": []any{map[string]any{"metadata": pair("kind", "b")}, map[string]any{"folder": "wx"}}}, names(1, 2, 3, 5, 7, 8)},
			} {
				if got := all(tt.where, "ASC", len(tt.want)); !slices.Equal(got, tt.want) {
					t.Errorf("where %v ASC: %v, want %v", tt.where, got, tt.want)
				}
				desc := slices.Clone(tt.want)
				slices.Reverse(desc)
				if got := all(tt.where, "DESC", len(tt.want)); !slices.Equal(got, desc) {
					t.Errorf("where %v DESC: %v, want %v", tt.where, got, desc)
				}
			}
			// A file being deleted (marked, as a crash between the mark and
			// the rows' removal leaves it) is neither listed nor counted.
			if _, err := e.srv.db.SQL.Exec(`UPDATE files SET deleted_at = CURRENT_TIMESTAMP WHERE id = $1`, ids["f4.txt"]); err != nil {
				t.Fatal(err)
			}
			// The mark's transaction also bumps the owner's file_writes,
			// which tells replicas their kept counts are stale.
			if _, err := e.srv.db.SQL.Exec(`UPDATE usages SET file_writes = file_writes + 1 WHERE owner = 'alice'`); err != nil {
				t.Fatal(err)
			}
			if got, want := all(map[string]any{"metadata": pair("kind", "a")}, "DESC", 4), names(8, 6, 2, 0); !slices.Equal(got, want) {
				t.Errorf("with f4 marked: %v, want %v", got, want)
			}
		})
	}
}

// A filtered totalCount is kept by each replica until the owner's files
// change (usage.file_writes): a replica that made no write of its own
// (replica, a second files.Service on the same database) still counts
// every save, update, delete, batch delete and reconcile's fix another
// made, and another user's writes leave the count as it was.
func TestKeptCountsFollowWrites(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newAuthEnv(t, backend)
			alice, bob := e.as(token(t, "alice")), e.as(token(t, "bob"))
			replica := files.New(e.srv.db.Ent, e.srv.db.Usages, e.store, files.Options{Now: e.clock.now},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			ctx := auth.WithUser(context.Background(), auth.User{ID: "alice"})
			pair := func(k, v string) *files.MetadataMatch { return &files.MetadataMatch{Key: k, Value: v} }
			filters := map[string]func(w *ent.FileWhereInput) error{
				"kind=a": func(w *ent.FileWhereInput) error {
					return files.FilterMetadata(w, []*files.MetadataMatch{pair("kind", "a")})
				},
				"kind=a,team=x": func(w *ent.FileWhereInput) error {
					return files.FilterMetadata(w, []*files.MetadataMatch{pair("kind", "a"), pair("team", "x")})
				},
				"folder=w": func(w *ent.FileWhereInput) error { f := "w"; return files.FilterFolder(w, &f) },
				"folder=w,kind=a": func(w *ent.FileWhereInput) error {
					f := "w"
					if err := files.FilterFolder(w, &f); err != nil {
						return err
					}
					return files.FilterMetadata(w, []*files.MetadataMatch{pair("kind", "a")})
				},
			}
			// check lists each filter on both replicas: the count must be
			// the rows listed, and the step's want.
			check := func(step string, want map[string]int) {
				t.Helper()
				for name, filter := range filters {
					for i, svc := range []*files.Service{e.srv.Files, replica} {
						w := &ent.FileWhereInput{}
						if err := filter(w); err != nil {
							t.Fatal(err)
						}
						first := 100
						conn, err := svc.List(ctx, files.ListArgs{First: &first, Where: w})
						if err != nil {
							t.Fatalf("%s: %s: %v", step, name, err)
						}
						if conn.TotalCount != len(conn.Edges) || conn.TotalCount != want[name] {
							t.Errorf("%s: %s on replica %d: totalCount %d, %d listed, want %d", step, name, i, conn.TotalCount, len(conn.Edges), want[name])
						}
					}
				}
			}
			meta := func(kind, team string) map[string]any { return map[string]any{"kind": kind, "team": team} }
			a1 := alice.uploadAttrs("a1.txt", map[string]any{"folder": "w", "metadata": meta("a", "x")})
			a2 := alice.uploadAttrs("a2.txt", map[string]any{"folder": "w", "metadata": meta("a", "y")})
			a3 := alice.uploadAttrs("a3.txt", map[string]any{"folder": "v", "metadata": meta("a", "x")})
			check("after three saves", map[string]int{"kind=a": 3, "kind=a,team=x": 2, "folder=w": 2, "folder=w,kind=a": 2})
			check("listed again", map[string]int{"kind=a": 3, "kind=a,team=x": 2, "folder=w": 2, "folder=w,kind=a": 2})

			a4 := alice.uploadAttrs("a4.txt", map[string]any{"folder": "w", "metadata": meta("a", "x")})
			check("after a save", map[string]int{"kind=a": 4, "kind=a,team=x": 3, "folder=w": 3, "folder=w,kind=a": 3})

			alice.do(updateQ, map[string]any{"id": a1.ID, "in": map[string]any{"metadata": meta("b", "x")}}, nil)
			check("after a metadata change", map[string]int{"kind=a": 3, "kind=a,team=x": 2, "folder=w": 3, "folder=w,kind=a": 2})

			alice.do(updateQ, map[string]any{"id": a2.ID, "in": map[string]any{"folder": "v"}}, nil)
			check("after a move", map[string]int{"kind=a": 3, "kind=a,team=x": 2, "folder=w": 2, "folder=w,kind=a": 1})

			alice.do(deleteQ, map[string]any{"id": a4.ID}, nil)
			check("after a delete", map[string]int{"kind=a": 2, "kind=a,team=x": 1, "folder=w": 1, "folder=w,kind=a": 0})

			bob.uploadAttrs("b1.txt", map[string]any{"folder": "w", "metadata": meta("a", "x")})
			check("after bob's save", map[string]int{"kind=a": 2, "kind=a,team=x": 1, "folder=w": 1, "folder=w,kind=a": 0})

			a5 := alice.uploadAttrs("a5.txt", map[string]any{"folder": "w", "metadata": meta("a", "x")})
			check("after another save", map[string]int{"kind=a": 3, "kind=a,team=x": 2, "folder=w": 2, "folder=w,kind=a": 1})
			alice.do(deleteManyQ, map[string]any{"ids": []string{a3.ID, a5.ID}}, nil)
			check("after a batch delete", map[string]int{"kind=a": 1, "kind=a,team=x": 0, "folder=w": 1, "folder=w,kind=a": 0})

			// a2 (kind=a, in v) loses its object: reconcile removes its row.
			var key string
			if err := e.srv.db.SQL.QueryRow(`SELECT file_name FROM files WHERE id = $1`, a2.ID).Scan(&key); err != nil {
				t.Fatal(err)
			}
			if err := e.store.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			if r, err := e.srv.Files.Reconcile(auth.WithUser(context.Background(), auth.User{ID: "admin", Admin: true}), true); err != nil || len(r.Missing) != 1 {
				t.Fatalf("reconcile: %+v, %v", r, err)
			}
			check("after reconcile", map[string]int{"kind=a": 0, "kind=a,team=x": 0, "folder=w": 1, "folder=w,kind=a": 0})
		})
	}
}
