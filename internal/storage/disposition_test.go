package storage

import (
	"mime"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"report.pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{"my report.pdf", `attachment; filename="my report.pdf"; filename*=UTF-8''my%20report.pdf`},
		{`a"b\c.txt`, `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`},
		{"résumé.pdf", `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`},
		{"日本.txt", `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`},
		{"100%;x=y", `attachment; filename="100%;x=y"; filename*=UTF-8''100%25%3Bx%3Dy`},
	}
	for _, tt := range tests {
		got := ContentDisposition(tt.name)
		if got != tt.want {
			t.Errorf("ContentDisposition(%q)\n got %s\nwant %s", tt.name, got, tt.want)
		}
		// A standard parser must recover the exact name from filename*.
		_, params, err := mime.ParseMediaType(got)
		if err != nil {
			t.Fatalf("ParseMediaType(%q): %v", got, err)
		}
		if params["filename"] != tt.name {
			t.Errorf("parsed name = %q, want %q", params["filename"], tt.name)
		}
	}
}

func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"a.txt", "résumé.pdf", `"quoted"`, "tab\there", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := ContentDisposition(name)
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("non-ASCII or control byte %#x in %q", got[i], got)
			}
		}
		_, params, err := mime.ParseMediaType(got)
		if err != nil {
			t.Fatalf("ParseMediaType(%q): %v", got, err)
		}
		if params["filename"] != name {
			t.Fatalf("round trip: got %q, want %q", params["filename"], name)
		}
	})
}
