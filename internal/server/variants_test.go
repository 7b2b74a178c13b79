package server

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent/event"
	"github.com/filegraph/filegraph/ent/filevariant"
	"github.com/filegraph/filegraph/internal/files"
	"github.com/filegraph/filegraph/internal/images/imagetest"
	"github.com/filegraph/filegraph/internal/testenv"
)

// variantsFile configures variants for files without a collection and for
// a public collection.
const variantsFile = `
collections:
  default:
    variants:
      thumb: {width: 64, height: 64, fit: cover}
      preview: {width: 200, height: 200, fit: inside}
  gallery:
    public: true
    variants:
      thumb: {width: 50, height: 50, fit: cover}
`

const variantsQ = `query($id: ID!) { node(id: $id) { ... on File { id status variants { name width height contentType size url } } } }`

type variantNode struct {
	Name, ContentType, URL string
	Width, Height          int
	Size                   int64
}

// variantsOf reads a file's variants through the API.
func (e *env) variantsOf(id string) (status string, vs []variantNode) {
	e.t.Helper()
	var out struct {
		Node struct {
			Status   string
			Variants []variantNode
		}
	}
	e.do(variantsQ, map[string]any{"id": id}, &out)
	return out.Node.Status, out.Node.Variants
}

// fetchImage GETs url (no credentials) and decodes it.
func fetchImage(t *testing.T, url string) (image.Image, string, int) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
	}
	m, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: %d bytes that do not decode: %v", url, len(body), err)
	}
	return m, res.Header.Get("Content-Type"), len(body)
}

// TestVariants saves real images through the API on both backends and
// fetches their variants by their urls: a JPEG with EXIF orientation 6
// (stored 400x300, shown 300x400), a PNG with transparency, a two-frame
// GIF and a lossy WebP get a thumb (64x64 cover) and a preview (inside
// 200x200, never enlarged) whose bytes decode to the size they promise,
// upright (the JPEG's red corner is at the top right once turned), JPEG or
// PNG as the source has transparency; a public collection's variant is
// read by its unsigned URL; a truncated JPEG and a text file get none and
// stay downloadable; fileDownloadUrl(variant) names what is wrong; each
// image's file.variants_ready is written once; the usage counts the
// variants' bytes; deleting a file removes its variants' objects and rows
// and releases their bytes; reconcile is clean throughout.
func TestVariants(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			onS3 := backend == "postgres+s3"
			coll := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(coll, []byte(variantsFile), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, "COLLECTIONS_FILE", coll)
			if onS3 {
				applyREADMEPolicy(t, e.store.Bucket())
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(e.logs.String()[max(0, len(e.logs.String())-6000):])
				}
			})
			ctx := context.Background()
			type want struct{ thumbW, thumbH, prevW, prevH int }
			cases := []struct {
				name, contentType string
				body              []byte
				wantType          string
				want              want
			}{
				{"rotated.jpg", "image/jpeg", imagetest.JPEG(400, 300, 6), "image/jpeg", want{64, 64, 150, 200}},
				{"alpha.png", "image/png", imagetest.PNG(300, 150), "image/png", want{64, 64, 200, 100}},
				{"anim.gif", "image/gif", imagetest.GIF(120, 80), "image/jpeg", want{64, 64, 120, 80}},
				{"photo.webp", "image/webp", imagetest.WebP, "image/jpeg", want{64, 64, 150, 100}},
			}
			ids := map[string]string{}
			for _, c := range cases {
				ids[c.name] = e.upload(c.name, c.contentType, c.body).ID
			}
			good := imagetest.JPEG(400, 300, 1)
			truncated := e.upload("cut.jpg", "image/jpeg", good[:len(good)/2]).ID
			text := e.upload("notes.txt", "text/plain", []byte("not an image")).ID
			pub := e.uploadScanned("pub.png", "image/png", "gallery", imagetest.PNG(100, 80)).ID
			e.waitNoJobs()

			for _, c := range cases {
				status, vs := e.variantsOf(ids[c.name])
				if status != "READY" || len(vs) != 2 {
					t.Fatalf("%s: %s with %d variants, want READY with 2: %+v", c.name, status, len(vs), vs)
				}
				for _, v := range vs {
					w, h := c.want.thumbW, c.want.thumbH
					if v.Name == "preview" {
						w, h = c.want.prevW, c.want.prevH
					}
					if v.Width != w || v.Height != h || v.ContentType != c.wantType {
						t.Errorf("%s's %s: %dx%d %s, want %dx%d %s", c.name, v.Name, v.Width, v.Height, v.ContentType, w, h, c.wantType)
					}
					m, ct, n := fetchImage(t, v.URL)
					if b := m.Bounds(); b.Dx() != v.Width || b.Dy() != v.Height || ct != v.ContentType || int64(n) != v.Size {
						t.Errorf("%s's %s fetched: %dx%d %s %d bytes, promised %dx%d %s %d bytes", c.name, v.Name, b.Dx(), b.Dy(), ct, n, v.Width, v.Height, v.ContentType, v.Size)
					}
					if c.name == "rotated.jpg" && v.Name == "preview" {
						// Stored 400x300 with the mark top-left; turned 90°
						// clockwise the mark is at the top right.
						if r, _, _, _ := m.At(v.Width-10, 10).RGBA(); r>>8 < 200 {
							t.Errorf("the rotated JPEG's preview is not upright: no red at its top right")
						}
						if r, g, _, _ := m.At(10, 10).RGBA(); r>>8 > 200 && g>>8 < 80 {
							t.Errorf("the rotated JPEG's preview has the mark at its top left: not turned")
						}
					}
				}
				// fileDownloadUrl of the variant: the same bytes.
				var d struct{ FileDownloadUrl struct{ URL string } }
				e.do(`query($id: ID!, $v: String) { fileDownloadUrl(id: $id, variant: $v) { url } }`, map[string]any{"id": ids[c.name], "v": "thumb"}, &d)
				if m, _, _ := fetchImage(t, d.FileDownloadUrl.URL); m.Bounds().Dx() != c.want.thumbW {
					t.Errorf("%s: fileDownloadUrl(variant: thumb) is %d wide", c.name, m.Bounds().Dx())
				}
			}

			// Public: the thumb at its unsigned public URL.
			status, vs := e.variantsOf(pub)
			if status != "READY" || len(vs) != 1 || !strings.Contains(vs[0].URL, "public/gallery/variants/") || strings.Contains(vs[0].URL, "?") {
				t.Fatalf("public file's variants: %s %+v, want one thumb at its public URL", status, vs)
			}
			if m, ct, _ := fetchImage(t, vs[0].URL); m.Bounds().Dx() != 50 || m.Bounds().Dy() != 50 || ct != "image/png" {
				t.Errorf("public thumb: %v %s, want 50x50 PNG", m.Bounds(), ct)
			}

			// No variants: the truncated JPEG (downloadable all the same)
			// and the text file.
			for _, id := range []string{truncated, text} {
				if status, vs := e.variantsOf(id); status != "READY" || len(vs) != 0 {
					t.Errorf("%s: %s %+v, want READY with none", id, status, vs)
				}
			}
			var d struct{ FileDownloadUrl struct{ URL string } }
			e.do(downloadQ, map[string]any{"id": truncated}, &d)
			if res := unsignedGet(t, d.FileDownloadUrl.URL); res.StatusCode != http.StatusOK {
				t.Errorf("the truncated JPEG's download: %d", res.StatusCode)
			}
			if !strings.Contains(e.logs.String(), "variants.not_made") {
				t.Error("no variants.not_made logged for the truncated JPEG")
			}
			dq := `query($id: ID!, $v: String) { fileDownloadUrl(id: $id, variant: $v) { url } }`
			if g := e.fail("BAD_USER_INPUT", dq, map[string]any{"id": truncated, "v": "poster"}); !strings.Contains(g.Message, `"poster"`) {
				t.Errorf("unknown variant: %q", g.Message)
			}
			if g := e.fail("VARIANT_NOT_READY", dq, map[string]any{"id": truncated, "v": "thumb"}); g.Extensions["pending"] != false || g.Extensions["variant"] != "thumb" {
				t.Errorf("the truncated JPEG's thumb: %+v", g)
			}

			// One file.variants_ready for each image with variants.
			n, err := e.srv.db.Ent.Event.Query().Where(event.Type(files.EventVariantsReady)).Count(ctx)
			if err != nil || n != len(cases)+1 {
				t.Errorf("%d file.variants_ready events (%v), want %d", n, err, len(cases)+1)
			}
			checkUsage(t, e)
			e.reconcileClean()

			// Deleting a file takes its variants.
			_, vs = e.variantsOf(ids["alpha.png"])
			keys, err := e.srv.db.Ent.FileVariant.Query().Select(filevariant.FieldFileName).Strings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			e.do(deleteQ, map[string]any{"id": ids["alpha.png"]}, nil)
			left, err := e.srv.db.Ent.FileVariant.Query().Select(filevariant.FieldFileName).Strings(ctx)
			if err != nil || len(left) != len(keys)-2 {
				t.Errorf("after the delete: %d variant rows (%v), want %d", len(left), err, len(keys)-2)
			}
			for _, v := range vs {
				res, err := client.Get(v.URL)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					t.Errorf("the deleted file's %s still downloads", v.Name)
				}
			}
			checkUsage(t, e)
			e.reconcileClean()
		})
	}
}

// TestVariantsAfterScan: with the scan gate on (a real clamd), an image's
// variants are made only once it is READY: none listed while it is
// SCANNING (clamd stopped), its thumb's download VARIANT_NOT_READY (the
// scan holds the file: FILE_NOT_READY first); once clamd is back, READY and
// then its variants, the public collection's under its public prefix.
func TestVariantsAfterScan(t *testing.T) {
	d := testenv.StartClamd(t)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			coll := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(coll, []byte(variantsFile), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, "SCAN_CLAMD_ADDR", d.Addr, "COLLECTIONS_FILE", coll)
			if backend == "postgres+s3" {
				applyREADMEPolicy(t, e.store.Bucket())
			}
			d.Stop()
			priv := e.uploadScanned("a.jpg", "image/jpeg", "", imagetest.JPEG(300, 200, 0))
			pub := e.uploadScanned("b.png", "image/png", "gallery", imagetest.PNG(120, 90))
			for _, f := range []scannedFile{priv, pub} {
				if status, vs := e.variantsOf(f.ID); status != "SCANNING" || len(vs) != 0 {
					t.Errorf("while scanning: %s %+v", status, vs)
				}
			}
			e.fail("FILE_NOT_READY", `query($id: ID!) { fileDownloadUrl(id: $id, variant: "thumb") { url } }`, map[string]any{"id": priv.ID})
			if n, err := e.srv.db.Ent.FileVariant.Query().Count(context.Background()); err != nil || n != 0 {
				t.Errorf("%d variant rows while scanning (%v)", n, err)
			}
			d.Start(t)
			e.clock.advance(10 * time.Minute)
			e.waitStatus(priv.ID, "READY")
			e.waitStatus(pub.ID, "READY")
			e.waitNoJobs()
			if _, vs := e.variantsOf(priv.ID); len(vs) != 2 {
				t.Errorf("private file after READY: %+v", vs)
			}
			_, vs := e.variantsOf(pub.ID)
			if len(vs) != 1 || !strings.Contains(vs[0].URL, "public/gallery/variants/") {
				t.Fatalf("public file after READY: %+v", vs)
			}
			if m, _, _ := fetchImage(t, vs[0].URL); m.Bounds().Dx() != 50 {
				t.Errorf("public thumb %v", m.Bounds())
			}
			checkUsage(t, e)
			e.reconcileClean()
		})
	}
}

// TestVariants12MP: a 12-megapixel JPEG saved through the API gets its
// thumb (64x64) and preview (200x150); the time from the save's call to
// its variants listed is logged (a figure, not a bound), beside the job's
// own time (variants.done's took).
func TestVariants12MP(t *testing.T) {
	photo := imagetest.Photo(4000, 3000)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			coll := filepath.Join(t.TempDir(), "collections.yaml")
			if err := os.WriteFile(coll, []byte(variantsFile), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, "COLLECTIONS_FILE", coll)
			u := e.createUploads(map[string]any{"originalName": "photo.jpg", "size": len(photo), "contentType": "image/jpeg"})[0]
			e.put(u, photo)
			start := time.Now()
			var out struct{ SaveFiles []fileNode }
			e.do(saveQ, map[string]any{"files": []map[string]any{{"fileName": u.FileName, "originalName": "photo.jpg"}}}, &out)
			saved := time.Since(start)
			var vs []variantNode
			waitUntil(t, "the 12 MP JPEG's variants", func() bool { _, vs = e.variantsOf(out.SaveFiles[0].ID); return len(vs) == 2 })
			took := time.Since(start)
			for _, v := range vs {
				w, h := 64, 64
				if v.Name == "preview" {
					w, h = 200, 150
				}
				if v.Width != w || v.Height != h {
					t.Errorf("%s: %dx%d, want %dx%d", v.Name, v.Width, v.Height, w, h)
				}
			}
			job := ""
			for _, line := range strings.Split(e.logs.String(), "\n") {
				if strings.Contains(line, "variants.done") {
					if i := strings.Index(line, "took="); i >= 0 {
						job = strings.Fields(line[i:])[0]
					}
				}
			}
			t.Logf("%s: %d-byte 12 MP JPEG: saveFiles %v, save -> variants listed %v (job %s)", backend, len(photo), saved.Round(time.Millisecond), took.Round(time.Millisecond), job)
		})
	}
}
