package files

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeContentType(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", DefaultContentType, true},
		{"image/png", "image/png", true},
		{"Text/Plain; Charset=UTF-8", "text/plain; charset=UTF-8", true},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"image", "", false},
		{"image/*", "", false},
		{"/png", "", false},
		{"text/plain; charset", "", false},
		{"not a type", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeContentType(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeContentType(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, bad := range map[string]bool{
		"report.pdf":              false,
		"Résumé (final) v2.docx":  false,
		"日本語のファイル.txt":            false,
		"":                        true,
		strings.Repeat("a", 255):  false,
		strings.Repeat("a", 256):  true,
		"a\x00b":                  true,
		"tab\there":               true,
		"new\nline":               true,
		"\x7f":                    true,
		"\xff\xfe":                true,
		"bidi\u0085next-line.txt": true,
		"invoice\u202Efdp.exe":    true, // shows as invoiceexe.pdf
		"zero\u200Bwidth.txt":     true,
		"\uFEFFbom.txt":           true,
		"soft\u00ADhyphen.txt":    true,
	} {
		if got := checkName(name) != ""; got != bad {
			t.Errorf("checkName(%q) refused = %v, want %v", name, got, bad)
		}
	}
}

func TestValidChecksum(t *testing.T) {
	for s, want := range map[string]bool{
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=": true,
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU":  false,
		"abc": false,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": false, // hex, not base64
	} {
		if got := validChecksum(s); got != want {
			t.Errorf("validChecksum(%q) = %v, want %v", s, got, want)
		}
	}
}

// rulesOnly is a Service with no database or storage, for the rules that
// need neither.
func rulesOnly(o Options) *Service {
	s := &Service{cfg: o}
	s.collections, s.byName = collections(o)
	return s
}

// A content type is at most 255 bytes, as sent and once normalized: 100
// files with a 900 KB type each cost 199 MB of database before.
func TestContentTypeBounded(t *testing.T) {
	s := rulesOnly(Options{MaxUploadSize: 1 << 30})
	for _, tc := range []struct {
		ct string
		ok bool
	}{
		{"application/" + strings.Repeat("x", 243), true}, // 255
		{"application/" + strings.Repeat("x", 244), false},
		{"text/plain; a=" + strings.Repeat("b", 900_000), false},
	} {
		_, err := s.validateUploads([]*UploadRequest{{OriginalName: "a", Size: 1, ContentType: tc.ct}})
		if (err == nil) != tc.ok {
			t.Errorf("%d bytes: %v", len(tc.ct), err)
		}
		if err != nil && !strings.Contains(err.Error(), "at most 255") {
			t.Errorf("%d bytes: %v", len(tc.ct), err)
		}
	}
}

var keyPattern = regexp.MustCompile(`^files/[0-9a-f]{32}(\.[a-z0-9]{1,10})?$`)

func TestNewKey(t *testing.T) {
	for name, ext := range map[string]string{
		"report.pdf":           ".pdf",
		"Photo.JPEG":           ".jpeg",
		"archive.tar.gz":       ".gz",
		"no-extension":         "",
		"../../etc/passwd":     "",
		"evil.p%2fhp":          "",
		"x.averyveryverylongx": "",
		"dot.":                 "",
		"ünï.cödé":             "",
	} {
		k1, k2 := NewKey(name), NewKey(name)
		if k1 == k2 {
			t.Errorf("NewKey(%q) made %q twice", name, k1)
		}
		if !keyPattern.MatchString(k1) || !strings.HasSuffix(k1, ext) {
			t.Errorf("NewKey(%q) = %q, want a random key ending %q", name, k1, ext)
		}
	}
}

func FuzzValidate(f *testing.F) {
	allowed := []string{"image/*", "application/pdf", "text/plain"}
	s := rulesOnly(Options{MaxUploadSize: 1 << 30, Limits: Limits{AllowedContentTypes: allowed}})
	f.Add("report.pdf", int64(10), "application/pdf", "")
	f.Add("", int64(0), "image/*", "abc")
	f.Add("a\x00b", int64(-1), "text/plain; charset=utf-8", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	f.Fuzz(func(t *testing.T, name string, size int64, contentType, checksum string) {
		out, err := s.validateUploads([]*UploadRequest{{OriginalName: name, Size: size, ContentType: contentType, ChecksumSHA256: checksum}})
		if err != nil {
			if _, ok := err.(*InvalidError); !ok {
				t.Fatalf("error %T, want *InvalidError", err)
			}
			return
		}
		r := out[0]
		if r.Size < 1 || r.Size > 1<<30 || !utf8.ValidString(r.OriginalName) || len(r.OriginalName) > MaxNameBytes || r.OriginalName == "" || len(r.ContentType) > MaxContentTypeBytes {
			t.Fatalf("accepted %+v", r)
		}
		// The normalized type is stable: what is signed is what a client
		// would send back.
		if again, ok := normalizeContentType(r.ContentType); !ok || again != r.ContentType {
			t.Fatalf("content type %q normalizes again to %q, %v", r.ContentType, again, ok)
		}
		if !allowedType(r.ContentType, allowed) {
			t.Fatalf("accepted type %q outside %v", r.ContentType, allowed)
		}
		if mt, _, _ := strings.Cut(r.ContentType, ";"); !strings.HasPrefix(mt, "image/") && mt != "application/pdf" && mt != "text/plain" {
			t.Fatalf("accepted type %q", r.ContentType)
		}
		if key := NewKey(r.OriginalName); !keyPattern.MatchString(key) {
			t.Fatalf("NewKey(%q) = %q", r.OriginalName, key)
		}
	})
}
