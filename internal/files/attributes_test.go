package files

import (
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeFolder(t *testing.T) {
	deep := strings.TrimSuffix(strings.Repeat("d/", MaxFolderSegments), "/")
	for _, tt := range []struct {
		in, want, refused string // refused: part of the message
	}{
		{"", "", ""},
		{"photos", "photos", ""},
		{"photos/2026/march", "photos/2026/march", ""},
		{"Ünïcode/日本", "Ünïcode/日本", ""},
		{"cafe\u0301", "caf\u00e9", ""}, // NFD in, NFC stored
		{"with space/and-dash_.x", "with space/and-dash_.x", ""},
		{"...", "...", ""},
		{deep, deep, ""},
		{deep + "/d", "", "17 segments"},
		{strings.Repeat("s", 255), strings.Repeat("s", 255), ""},
		{"a/" + strings.Repeat("s", 256), "", "segment 2 is 256 bytes"},
		{"/a", "", "empty segment"},
		{"a/", "", "empty segment"},
		{"a//b", "", "empty segment"},
		{"/", "", "empty segment"},
		{"a/./b", "", `"." segment`},
		{"..", "", `".." segment`},
		{"a/../b", "", `".." segment`},
		{"a\x00b", "", "control characters (U+0000"},
		{"a\nb", "", "control characters"},
		{"a\u202Eb", "", "format characters (U+202E"},
		{"a\u200Bb", "", "format characters"},
		{"\xff", "", "UTF-8"},
	} {
		got, msg := normalizeFolder(tt.in)
		switch {
		case tt.refused == "" && (msg != "" || got != tt.want):
			t.Errorf("normalizeFolder(%q) = %q, %q; want %q", tt.in, got, msg, tt.want)
		case tt.refused != "" && !strings.Contains(msg, tt.refused):
			t.Errorf("normalizeFolder(%q) refused with %q, want a message with %q", tt.in, msg, tt.refused)
		}
	}
}

func TestFolderAncestors(t *testing.T) {
	if got := fmt.Sprint(folderAncestors("a/bb/c")); got != "[a a/bb a/bb/c]" {
		t.Errorf("folderAncestors(a/bb/c) = %s", got)
	}
	if got := folderAncestors(""); got != nil {
		t.Errorf("folderAncestors of the root = %v, want none", got)
	}
}

func TestCheckMetadata(t *testing.T) {
	many := map[string]string{}
	for i := range MaxMetadataKeys + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	big := map[string]string{}
	for i := range 9 {
		big[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1000)
	}
	for _, tt := range []struct {
		name string
		m    map[string]string
		want string // "" or the problems, field: message; ...
	}{
		{"none", nil, ""},
		{"empty", map[string]string{}, ""},
		{"plain", map[string]string{"ticket": "T-1", "app.v-2_x": "", "A9": "ünï"}, ""},
		{"longest key", map[string]string{strings.Repeat("k", 64): "v"}, ""},
		{"longest value", map[string]string{"k": strings.Repeat("v", 1024)}, ""},
		{"empty key", map[string]string{"": "v"}, `m."": key must not be empty`},
		{"long key", map[string]string{strings.Repeat("k", 65): "v"}, "is 65 bytes long, at most 64"},
		{"key with space", map[string]string{"my key": "v"}, `m.my key: key "my key" may hold only`},
		{"key with slash", map[string]string{"a/b": "v"}, `m.a/b: key "a/b" may hold only`},
		{"long value", map[string]string{"k": strings.Repeat("v", 1025)}, "m.k: value is 1025 bytes long, at most 1024"},
		{"NUL value", map[string]string{"k": "a\x00"}, "m.k: value must not contain NUL bytes"},
		{"broken value", map[string]string{"k": "\xff"}, "m.k: value is not valid UTF-8"},
		{"too many", many, "m: has 33 keys, at most 32"},
		{"too big", big, "m: holds 9018 bytes of keys and values, at most 8192"},
	} {
		var ps problems
		ps.checkMetadata("m", tt.m)
		got := ""
		if err := ps.err(); err != nil {
			got = err.Error()
		}
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%s: checkMetadata = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCheckMetadataMatches(t *testing.T) {
	var ps problems
	ps.checkMetadataMatches("where.metadata", []*MetadataMatch{{Key: "ok", Value: "x"}, {Key: "bad key", Value: "x"}, nil, {Key: "k", Value: strings.Repeat("v", 1025)}})
	got := ps.err().Error()
	for _, want := range []string{"where.metadata[1].key:", "where.metadata[2]: must not be null", "where.metadata[3].value: is 1025 bytes"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "metadata[0]") {
		t.Errorf("a good pair was refused: %q", got)
	}
}
