package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// marked is a w x h image, grey, with a red square in its top-left corner.
func marked(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{128, 128, 128, 255}
			if x < w/4 && y < h/4 {
				c = color.RGBA{255, 0, 0, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

// withOrientation inserts an EXIF APP1 segment saying orientation o right
// after a JPEG's SOI.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00*")
	binary.Write(&tiff, binary.BigEndian, uint32(8))
	binary.Write(&tiff, binary.BigEndian, uint16(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.BigEndian, uint32(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{o, 0})
	binary.Write(&tiff, binary.BigEndian, uint32(0))
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1}
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodeVariant(t *testing.T, v Variant) image.Image {
	t.Helper()
	m, format, err := image.Decode(bytes.NewReader(v.Data))
	if err != nil {
		t.Fatalf("variant %s does not decode: %v", v.Name, err)
	}
	if want := "image/" + format; want != v.ContentType {
		t.Fatalf("variant %s is %s, says %s", v.Name, format, v.ContentType)
	}
	if b := m.Bounds(); b.Dx() != v.Width || b.Dy() != v.Height {
		t.Fatalf("variant %s is %v, says %dx%d", v.Name, b, v.Width, v.Height)
	}
	return m
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xc000 && g < 0x4000 && b < 0x4000
}

func TestJPEGOrientation(t *testing.T) {
	// Stored 400x200 with the mark top-left; orientation 6 displays it
	// rotated 90° clockwise: 200x400, the mark top-right.
	src := withOrientation(encodeJPEG(t, marked(400, 200)), 6)
	s, err := Decode(bytes.NewReader(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Width() != 200 || s.Height() != 400 {
		t.Fatalf("displayed %dx%d, want 200x400", s.Width(), s.Height())
	}
	v, err := s.Make(Spec{Name: "preview", Width: 100, Height: 100, Fit: Inside})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeVariant(t, v)
	if v.Width != 50 || v.Height != 100 || v.ContentType != "image/jpeg" {
		t.Fatalf("got %dx%d %s, want 50x100 image/jpeg", v.Width, v.Height, v.ContentType)
	}
	if !isRed(m.At(45, 5)) || isRed(m.At(5, 5)) || isRed(m.At(45, 95)) {
		t.Fatalf("mark not top-right: top-left %v, top-right %v, bottom-right %v", m.At(5, 5), m.At(45, 5), m.At(45, 95))
	}
	c, err := s.Make(Spec{Name: "thumb", Width: 64, Height: 64, Fit: Cover})
	if err != nil {
		t.Fatal(err)
	}
	if c.Width != 64 || c.Height != 64 {
		t.Fatalf("cover: %dx%d, want 64x64", c.Width, c.Height)
	}
	decodeVariant(t, c)
}

func TestEveryOrientation(t *testing.T) {
	// Where the stored top-left mark is displayed, for each orientation.
	want := map[uint16][2]bool{ // right?, bottom?
		1: {false, false}, 2: {true, false}, 3: {true, true}, 4: {false, true},
		5: {false, false}, 6: {true, false}, 7: {true, true}, 8: {false, true},
	}
	for o := uint16(1); o <= 8; o++ {
		s, err := Decode(bytes.NewReader(withOrientation(encodeJPEG(t, marked(80, 40)), o)), 0)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Make(Spec{Name: "v", Width: 1000, Height: 1000, Fit: Inside})
		if err != nil {
			t.Fatal(err)
		}
		m := decodeVariant(t, v)
		W, H := 80, 40
		if o >= 5 {
			W, H = 40, 80
		}
		if v.Width != W || v.Height != H {
			t.Fatalf("orientation %d: %dx%d, want %dx%d", o, v.Width, v.Height, W, H)
		}
		x, y := 2, 2
		if want[o][0] {
			x = W - 3
		}
		if want[o][1] {
			y = H - 3
		}
		if !isRed(m.At(x, y)) {
			t.Errorf("orientation %d: no mark at %d,%d", o, x, y)
		}
	}
}

func TestPNGWithAlphaStaysPNG(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 300, 150))
	for y := 0; y < 150; y++ {
		for x := 0; x < 300; x++ {
			m.SetNRGBA(x, y, color.NRGBA{0, 0, 255, uint8(x * 255 / 299)})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, m)
	s, err := Decode(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Make(Spec{Name: "thumb", Width: 60, Height: 60, Fit: Cover})
	if err != nil {
		t.Fatal(err)
	}
	out := decodeVariant(t, v)
	if v.ContentType != "image/png" || v.Width != 60 || v.Height != 60 {
		t.Fatalf("got %dx%d %s", v.Width, v.Height, v.ContentType)
	}
	// Cover keeps the middle (x 75..225 of 300): alpha rises from ~64 to ~191.
	_, _, _, a0 := out.At(0, 30).RGBA()
	_, _, _, a1 := out.At(59, 30).RGBA()
	if a0>>8 < 40 || a0>>8 > 90 || a1>>8 < 165 || a1>>8 > 215 {
		t.Fatalf("alpha at the edges %d, %d; want about 64 and 191", a0>>8, a1>>8)
	}
	// An opaque PNG becomes a JPEG.
	b.Reset()
	png.Encode(&b, marked(100, 100))
	s, err = Decode(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Make(Spec{Name: "t", Width: 10, Height: 10, Fit: Inside}); v.ContentType != "image/jpeg" {
		t.Fatalf("opaque PNG gave %s", v.ContentType)
	}
}

func TestGIFFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}}
	red := image.NewPaletted(image.Rect(0, 0, 120, 60), pal)
	green := image.NewPaletted(image.Rect(0, 0, 120, 60), pal)
	for i := range green.Pix {
		green.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{red, green}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	s, err := Decode(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Make(Spec{Name: "t", Width: 40, Height: 40, Fit: Inside})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeVariant(t, v)
	if v.Width != 40 || v.Height != 20 || !isRed(m.At(20, 10)) {
		t.Fatalf("got %dx%d, middle %v; want 40x20, red (the first frame)", v.Width, v.Height, m.At(20, 10))
	}
}

func TestWebP(t *testing.T) {
	for _, c := range []struct {
		file, contentType string
		w, h              int
	}{
		{"testdata/blue-purple-pink.lossy.webp", "image/jpeg", 0, 0},
		{"testdata/gopher-doc.with-alpha.lossless.webp", "image/png", 0, 0},
	} {
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Decode(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if s.Format != "webp" {
			t.Fatalf("%s: format %s", c.file, s.Format)
		}
		v, err := s.Make(Spec{Name: "t", Width: 32, Height: 32, Fit: Inside})
		if err != nil {
			t.Fatal(err)
		}
		decodeVariant(t, v)
		long := max(cfg.Width, cfg.Height)
		if v.ContentType != c.contentType || max(v.Width, v.Height) != min(32, long) {
			t.Fatalf("%s (%dx%d): got %dx%d %s, want %s", c.file, cfg.Width, cfg.Height, v.Width, v.Height, v.ContentType, c.contentType)
		}
	}
}

// pngHeader is the start of a PNG announcing w x h RGBA pixels, with no
// pixel data.
func pngHeader(w, h uint32) []byte {
	out := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

func TestBombRefusedFromItsHeader(t *testing.T) {
	// 20,000 x 20,000 RGBA would be 1.6 GB decoded.
	hdr := pngHeader(20000, 20000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(hdr), 50_000_000)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("refusing allocated %d bytes", n)
	}
	t.Logf("refused: %v (%d bytes allocated)", err, after.TotalAlloc-before.TotalAlloc)
}

func TestTruncatedAndJunk(t *testing.T) {
	jpg := encodeJPEG(t, marked(300, 300))
	var b bytes.Buffer
	png.Encode(&b, marked(300, 300))
	for name, data := range map[string][]byte{
		"truncated jpeg": jpg[:len(jpg)/2],
		"truncated png":  b.Bytes()[:b.Len()/2],
		"header only":    pngHeader(10, 10),
		"text":           []byte("hello, not an image"),
		"empty":          nil,
	} {
		_, err := Decode(bytes.NewReader(data), 50_000_000)
		if !errors.Is(err, ErrUndecodable) {
			t.Errorf("%s: got %v, want ErrUndecodable", name, err)
		}
	}
}

// photo12MP is a 4000x3000 JPEG (quality 90) with detail everywhere, as a
// phone's photo has.
func photo12MP(b testing.TB) []byte {
	m := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	for y := 0; y < 3000; y++ {
		for x := 0; x < 4000; x++ {
			m.Y[y*m.YStride+x] = uint8((x*7 + y*13 + (x*y)>>7) & 0xff)
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(i * 31 >> 4)
		m.Cr[i] = uint8(255 - i*17>>5)
	}
	return encodeJPEG(b, m)
}

// BenchmarkThumbnail12MP decodes a 12-megapixel JPEG and makes a 256x256
// cover thumbnail of it, as a variants job does, and reports the CPU time
// it took (cpu-ms/op: user and system time of the process, so with -cpu 1
// one core's) beside Debian's vipsthumbnail (libvips-tools) doing the same
// to the same file, when it is installed; run with -cpu 1 -benchtime 5x.
// On this shared machine wall time says little: compare cpu-ms/op.
func BenchmarkThumbnail12MP(b *testing.B) {
	data := photo12MP(b)
	b.Run("filegraph", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		start := cpuTime()
		for i := 0; i < b.N; i++ {
			s, err := Decode(bytes.NewReader(data), 50_000_000)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Make(Spec{Name: "thumb", Width: 256, Height: 256, Fit: Cover}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(maxRSS())/1e6, "maxrss-MB")
	})
	b.Run("vipsthumbnail", func(b *testing.B) {
		vips, err := exec.LookPath("vipsthumbnail")
		if err != nil {
			b.Skip("vipsthumbnail is not installed (apt-get install libvips-tools)")
		}
		dir := b.TempDir()
		in := filepath.Join(dir, "photo.jpg")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			b.Fatal(err)
		}
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(vips, in, "--size", "256x256", "--smartcrop", "centre", "-o", filepath.Join(dir, "thumb.jpg[Q=82]"))
			cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the process's peak resident set, in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}
