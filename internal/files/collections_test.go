package files

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

// Each rule of a collection refuses with its field, rule, collection and a
// message naming the file; the default collection keeps the global rules.
func TestCollectionRules(t *testing.T) {
	s := rulesOnly(Options{
		MaxUploadSize: 10 << 20,
		Limits:        Limits{AllowedContentTypes: []string{"image/*", "application/pdf"}},
		Collections: []Collection{
			{Name: "avatars", AllowedContentTypes: []string{"image/png", "image/webp"}, MaxFileSize: 2 << 20, MaxFilesPerRequest: intp(1), Public: true},
			{Name: "documents"}, // everything from the global rules
		},
	})
	type req = UploadRequest
	for _, tt := range []struct {
		reqs []*UploadRequest
		want []Problem // nil: accepted
	}{
		{[]*req{{OriginalName: "me.png", Size: 2 << 20, ContentType: "image/png", Collection: "avatars"}}, nil},
		{[]*req{{OriginalName: "big.pdf", Size: 10 << 20, ContentType: "application/pdf", Collection: "documents"}}, nil},
		{[]*req{{OriginalName: "a.gif", Size: 1, ContentType: "image/gif"}}, nil}, // default: image/*
		{[]*req{{OriginalName: "me.png", Size: 2<<20 + 1, ContentType: "image/png", Collection: "avatars"}},
			[]Problem{{"files[0].size", `"me.png" is 2097153 bytes, over the maxFileSize of collection "avatars" (2097152 bytes) by 1`, "maxFileSize", "avatars"}}},
		{[]*req{{OriginalName: "me.gif", Size: 10, ContentType: "image/gif", Collection: "avatars"}},
			[]Problem{{"files[0].contentType", `"me.gif" is image/gif, which collection "avatars" does not allow (allowedContentTypes: image/png, image/webp)`, "allowedContentTypes", "avatars"}}},
		{[]*req{{OriginalName: "a.png", Size: 1, ContentType: "image/png", Collection: "avatars"}, {OriginalName: "b.png", Size: 1, ContentType: "image/png", Collection: "avatars"}},
			[]Problem{{"files", `2 files are in collection "avatars", which takes at most 1 in one request`, "maxFilesPerRequest", "avatars"}}},
		{[]*req{{OriginalName: "x.png", Size: 1, ContentType: "image/png", Collection: "photos"}},
			[]Problem{{"files[0].collection", `"x.png" names collection "photos", which does not exist; the collections are default, avatars, documents`, "collection", "photos"}}},
		{[]*req{{OriginalName: "x.txt", Size: 1, ContentType: "text/plain", Collection: "documents"}},
			[]Problem{{"files[0].contentType", `"x.txt" is text/plain, which collection "documents" does not allow (allowedContentTypes: image/*, application/pdf)`, "allowedContentTypes", "documents"}}},
		{[]*req{{OriginalName: "x.bin", Size: 11 << 20, ContentType: "image/png"}},
			[]Problem{{"files[0].size", "11534336 bytes is over the limit of 10485760 bytes by 1048576", "", ""}}},
		{[]*req{{OriginalName: "x.txt", Size: 1, ContentType: "text/plain", Collection: "default"}},
			[]Problem{{"files[0].contentType", `"text/plain" is not allowed; allowed are image/*, application/pdf`, "", ""}}},
	} {
		out, err := s.validateUploads(tt.reqs)
		name := fmt.Sprintf("%+v", *tt.reqs[0])
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if c := tt.reqs[0].Collection; out[0].Collection != c && !(c == "" && out[0].Collection == DefaultCollection) {
				t.Errorf("%s: collection %q", name, out[0].Collection)
			}
			continue
		}
		inv, ok := err.(*InvalidError)
		if !ok {
			t.Errorf("%s: error %v, want the problems %+v", name, err, tt.want)
			continue
		}
		if fmt.Sprint(inv.Problems) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, inv.Problems, tt.want)
		}
	}
}

// The collections query's list: default first with the global rules, then
// each collection with what it leaves out filled in.
func TestCollectionsInherit(t *testing.T) {
	s := rulesOnly(Options{MaxUploadSize: 1 << 30, Limits: Limits{AllowedContentTypes: []string{"image/*"}},
		Collections: []Collection{{Name: "a", MaxFileSize: 5}, {Name: "b", AllowedContentTypes: []string{"image/png"}, Public: true}}})
	got := s.Collections()
	if len(got) != 3 || got[0].Name != DefaultCollection || got[0].MaxFileSize != 1<<30 || got[0].Public || got[0].MaxFilesPerRequest != nil {
		t.Fatalf("%+v", got)
	}
	if got[1].MaxFileSize != 5 || strings.Join(got[1].AllowedContentTypes, ",") != "image/*" {
		t.Errorf("a: %+v", got[1])
	}
	if got[2].MaxFileSize != 1<<30 || strings.Join(got[2].AllowedContentTypes, ",") != "image/png" || !got[2].Public {
		t.Errorf("b: %+v", got[2])
	}
}

var publicKeyPattern = regexp.MustCompile(`^public/avatars/[0-9a-f]{32}\.png$`)

// A public collection's keys are under public/<collection>/; private ones
// stay under files/.
func TestCollectionKeys(t *testing.T) {
	s := rulesOnly(Options{MaxUploadSize: 1 << 30, Collections: []Collection{{Name: "avatars", Public: true}, {Name: "docs"}}})
	if k := s.byName["avatars"].newKey("Me.PNG"); !publicKeyPattern.MatchString(k) {
		t.Errorf("public key %q", k)
	}
	for _, c := range []string{"docs", DefaultCollection} {
		if k := s.byName[c].newKey("a.png"); !keyPattern.MatchString(k) {
			t.Errorf("%s key %q", c, k)
		}
	}
}
