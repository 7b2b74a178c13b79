package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
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
				{"empty list", map[string]any{"metadata": []any{}}, []string{"A-upper.txt", "a.txt", "ab.txt", "deep.txt", "nfd.txt", "root.txt"}},
				{"with a name term", map[string]any{"metadata": []any{pair("ticket", "T-1")}, "originalNameHasPrefix": "a"}, []string{"a.txt", "ab.txt"}},
				{"in or", map[string]any{"or": []any{
					map[string]any{"metadata": []any{pair("kind", "receipt")}},
					map[string]any{"metadata": []any{pair("ticket", "T-2")}},
				}}, []string{"ab.txt", "deep.txt"}},
				{"in not", map[string]any{"not": map[string]any{"metadata": []any{pair("ticket", "T-1")}}}, []string{"A-upper.txt", "deep.txt", "root.txt"}},
				{"folder", map[string]any{"folder": "a"}, []string{"a.txt"}},
				{"root folder", map[string]any{"folder": ""}, []string{"root.txt"}},
				{"folder NFD asked", map[string]any{"folder": "cafe\u0301"}, []string{"nfd.txt"}},
				{"folder prefix", map[string]any{"folderHasPrefix": "a"}, []string{"a.txt", "deep.txt"}},
				{"folder prefix deeper", map[string]any{"folderHasPrefix": "a/b"}, []string{"deep.txt"}},
				{"folder prefix is exact", map[string]any{"folderHasPrefix": "A"}, []string{"A-upper.txt"}},
				{"folder prefix of all", map[string]any{"folderHasPrefix": ""}, []string{"A-upper.txt", "a.txt", "ab.txt", "deep.txt", "nfd.txt", "root.txt"}},
				{"folder and metadata", map[string]any{"folderHasPrefix": "a", "metadata": []any{pair("kind", "invoice")}}, []string{"a.txt", "deep.txt"}},
			} {
				if got := e.listAttrs(tt.where); !slices.Equal(got, tt.want) {
					t.Errorf("%s: listed %v, want %v", tt.name, got, tt.want)
				}
			}
		})
	}
}
