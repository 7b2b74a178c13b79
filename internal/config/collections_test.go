package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// collectionsEnv writes body as a collections file and returns the
// settings that point at it, plus extra.
func collectionsEnv(t *testing.T, body string, extra map[string]string) map[string]string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "collections.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"COLLECTIONS_FILE": p}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// The example, as YAML and as JSON, reads the same.
func TestCollectionsFile(t *testing.T) {
	want := []Collection{
		{Name: "avatars", AllowedContentTypes: []string{"image/png", "image/jpeg", "image/webp"}, MaxFileSize: 2 << 20, MaxFilesPerRequest: 1, Public: true},
		{Name: "documents", AllowedContentTypes: []string{"application/pdf", "text/*"}, MaxFileSize: 50 << 20},
		{Name: "any_thing-2"},
	}
	for name, body := range map[string]string{
		"yaml": `
collections:
  avatars:
    allowedContentTypes: [image/png, image/jpeg, Image/WebP]   # same syntax as ALLOWED_CONTENT_TYPES
    maxFileSize: 2MiB
    maxFilesPerRequest: 1
    public: true
  documents:
    allowedContentTypes: [application/pdf, "text/*"]
    maxFileSize: 52428800
  any_thing-2:
`,
		"json": `{"collections": {
  "avatars": {"allowedContentTypes": ["image/png", "image/jpeg", "image/webp"], "maxFileSize": "2MiB", "maxFilesPerRequest": 1, "public": true},
  "documents": {"allowedContentTypes": ["application/pdf", "text/*"], "maxFileSize": 52428800, "public": false},
  "any_thing-2": {}}}`,
	} {
		c, err := Load(env(collectionsEnv(t, body, nil)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(c.Collections, want) {
			t.Errorf("%s: read\n%+v\nwant\n%+v", name, c.Collections, want)
		}
	}
	c, err := Load(env(nil))
	if err != nil || c.Collections != nil {
		t.Errorf("without a file: %+v, %v", c.Collections, err)
	}
}

// A bad file stops the server with a message naming the setting, the
// collection, the field and the problem; every problem is listed.
func TestCollectionsFileErrors(t *testing.T) {
	tests := []struct {
		body  string
		extra map[string]string
		want  []string // each must appear in the error
	}{
		{"collections:\n  avatars:\n    maxFileSiz: 2MiB\n", nil,
			[]string{`collection "avatars": field maxFileSiz (line 3): unknown field; a collection has allowedContentTypes, maxFileSize, maxFilesPerRequest, public, variants`}},
		{"collections:\n  avatars:\n    maxFileSize: 6GiB\n", nil,
			[]string{`collection "avatars": field maxFileSize (line 3): 6GiB (6442450944 bytes) is over MAX_UPLOAD_SIZE (5368709120 bytes)`}},
		{"collections:\n  avatars:\n    maxFileSize: 2 megs\n", nil,
			[]string{`collection "avatars": field maxFileSize (line 3): "2 megs" is not a size`}},
		{"collections:\n  docs:\n    allowedContentTypes: [image/*]\n", map[string]string{"ALLOWED_CONTENT_TYPES": "image/png,application/pdf"},
			[]string{`collection "docs": field allowedContentTypes (line 3): "image/*" is not allowed by ALLOWED_CONTENT_TYPES (image/png,application/pdf): a collection can only narrow it`}},
		{"collections:\n  docs:\n    allowedContentTypes: [pdf]\n", nil,
			[]string{`collection "docs": field allowedContentTypes (line 3): "pdf" is not a media type`}},
		{"collections:\n  docs:\n    allowedContentTypes: image/png\n", nil,
			[]string{`collection "docs": field allowedContentTypes (line 3): must be a list`}},
		{"collections:\n  docs:\n    maxFilesPerRequest: 101\n", nil,
			[]string{`collection "docs": field maxFilesPerRequest (line 3): "101" must be a whole number from 1 to 100`}},
		{"collections:\n  docs:\n    public: yes\n", nil,
			[]string{`collection "docs": field public (line 3): "yes" must be true or false`}},
		{"collections:\n  default:\n    public: true\n", nil,
			[]string{`collection "default": field public (line 3): the default collection is governed by the global settings; only its variants can be set here`}},
		{"collections:\n  a:\n    variants:\n      thumb: {width: 0, height: 256, fit: cover}\n", nil,
			[]string{`collection "a": field variants.thumb.width (line 4): "0" must be a whole number of pixels from 1 to 4096`}},
		{"collections:\n  a:\n    variants:\n      thumb: {width: 256, height: 256, fit: fill}\n", nil,
			[]string{`collection "a": field variants.thumb.fit (line 4): "fill" must be cover (fill the box, cropping the middle) or inside`}},
		{"collections:\n  a:\n    variants:\n      thumb: {width: 256, fit: cover, size: 3}\n", nil,
			[]string{`field variants.thumb.size (line 4): unknown field; a variant has width, height and fit`, `field variants.thumb (line 4): has no height`}},
		{"collections:\n  a:\n    variants:\n      th/umb: {width: 1, height: 1, fit: cover}\n", nil,
			[]string{`field variants.th/umb (line 4): name "th/umb" may hold only letters, digits, - and _`}},
		{"collections:\n  a:\n    variants: [thumb]\n", nil,
			[]string{`field variants (line 3): must be a mapping of names to {width, height, fit}`}},
		{"collections:\n  my/files:\n    public: true\n", nil,
			[]string{`collection "my/files": line 2: name "my/files" may hold only letters, digits, - and _`}},
		{"collections:\n  a:\n    public: true\n  a:\n    public: false\n", nil,
			[]string{`already defined`}},
		{"collections:\n  a:\n    public: true\n    public: false\n", nil,
			[]string{`collection "a": field public (line 4): given twice`}},
		{"colections:\n  a: {}\n", nil,
			[]string{`line 1: unknown key "colections"`, "has no collections key"}},
		{"collections: [a, b]\n", nil, []string{"collections must be a mapping"}},
		{"collections:\n  a: [1]\n", nil, []string{`collection "a": line 2: must be a mapping of allowedContentTypes`}},
		{"collections:\n  a:\n    maxFileSiz: 1\n  b:\n    public: 1\n", nil,
			[]string{`collection "a": field maxFileSiz`, `collection "b": field public`}},
		{"{not yaml", nil, []string{"not valid YAML"}},
	}
	for _, tt := range tests {
		_, err := Load(env(collectionsEnv(t, tt.body, tt.extra)))
		if err == nil {
			t.Errorf("%q accepted", tt.body)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error\n%v\nsays nothing like\n%s", tt.body, err, w)
			}
		}
		// Each problem is a line of its own naming the setting.
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "configuration: "), "\n") {
			if !strings.HasPrefix(line, "COLLECTIONS_FILE: ") {
				t.Errorf("%q: line %q does not name COLLECTIONS_FILE", tt.body, line)
			}
		}
	}
	_, err := Load(env(map[string]string{"COLLECTIONS_FILE": filepath.Join(t.TempDir(), "missing.yaml")}))
	if err == nil || !strings.Contains(err.Error(), "COLLECTIONS_FILE: cannot read the collections file") {
		t.Errorf("missing file: %v", err)
	}
}

// Variants per collection, and for files without one (default).
func TestCollectionVariants(t *testing.T) {
	c, err := Load(env(collectionsEnv(t, `
collections:
  default:
    variants: {thumb: {width: 128, height: 128, fit: cover}}
  avatars:
    public: true
    variants:
      thumb: {width: 256, height: 256, fit: cover}
      preview: {width: 1280, height: 1280, fit: inside}
`, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Collection{
		{Name: "default", Variants: []Variant{{"thumb", 128, 128, "cover"}}},
		{Name: "avatars", Public: true, Variants: []Variant{{"thumb", 256, 256, "cover"}, {"preview", 1280, 1280, "inside"}}},
	}
	if !reflect.DeepEqual(c.Collections, want) {
		t.Errorf("read\n%+v\nwant\n%+v", c.Collections, want)
	}
	if c.Processing.ImageMaxPixels != 50_000_000 {
		t.Errorf("IMAGE_MAX_PIXELS default %d", c.Processing.ImageMaxPixels)
	}
	if _, err := Load(env(map[string]string{"IMAGE_MAX_PIXELS": "0"})); err == nil || !strings.Contains(err.Error(), "IMAGE_MAX_PIXELS") {
		t.Errorf("IMAGE_MAX_PIXELS=0: %v", err)
	}
}

// Collections may narrow MAX_UPLOAD_SIZE and ALLOWED_CONTENT_TYPES.
func TestCollectionsTighten(t *testing.T) {
	c, err := Load(env(collectionsEnv(t, "collections:\n  pics:\n    allowedContentTypes: [image/png, image/*]\n    maxFileSize: 1MiB\n",
		map[string]string{"ALLOWED_CONTENT_TYPES": "image/*", "MAX_UPLOAD_SIZE": "1MiB"})))
	if err != nil || len(c.Collections) != 1 || c.Collections[0].MaxFileSize != 1<<20 {
		t.Errorf("%+v, %v", c.Collections, err)
	}
}

func TestS3PublicBaseURL(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"S3_BUCKET": "b", "S3_REGION": "eu-west-1"}, "https://b.s3.eu-west-1.amazonaws.com/"},
		{map[string]string{"S3_BUCKET": "b", "S3_ENDPOINT": "http://127.0.0.1:7070", "S3_FORCE_PATH_STYLE": "true"}, "http://127.0.0.1:7070/b/"},
		{map[string]string{"S3_BUCKET": "b", "S3_ENDPOINT": "https://r2.example"}, "https://b.r2.example/"},
		{map[string]string{"S3_BUCKET": "b", "S3_PUBLIC_BASE_URL": "https://cdn.example/files"}, "https://cdn.example/files/"},
		{map[string]string{}, ""},
	} {
		c, err := Load(env(tt.env))
		if err != nil || c.S3.PublicBaseURL != tt.want {
			t.Errorf("%v: %q, %v; want %q", tt.env, c.S3.PublicBaseURL, err, tt.want)
		}
	}
	for _, v := range []string{"cdn.example", "https://cdn.example/?a=b"} {
		if _, err := Load(env(map[string]string{"S3_BUCKET": "b", "S3_PUBLIC_BASE_URL": v})); err == nil || !strings.Contains(err.Error(), "S3_PUBLIC_BASE_URL") {
			t.Errorf("S3_PUBLIC_BASE_URL=%s: %v", v, err)
		}
	}
}
