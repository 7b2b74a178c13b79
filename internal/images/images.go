// Package images makes the variants (thumbnails, previews) of a saved
// image: it decodes JPEG, PNG, GIF (its first frame) and WebP with the
// standard library and golang.org/x/image, so that the binary stays static
// (CGO_ENABLED=0), refuses images larger than a pixel bound from their
// header before it decodes them, applies a JPEG's EXIF orientation, and
// writes JPEG, or PNG when the source has transparency.
//
// Shrinking is in two steps, as libvips' thumbnail does: an area average
// (a box filter, one pass over the source's pixels, straight from JPEG's
// YCbCr planes) down to twice the target, then Catmull-Rom from there, which
// is cheap on an image that small. Decoding dominates: x/image has no DCT
// scaling, so a JPEG is decoded at full size.
package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Fit says how a variant fills its box.
type Fit string

const (
	// Cover fills the box, cropping the middle of the image to its shape.
	Cover Fit = "cover"
	// Inside fits the whole image inside the box, keeping its shape.
	Inside Fit = "inside"
)

// Spec is one variant an operator configured: a box of at most Width x
// Height pixels. Images are never enlarged.
type Spec struct {
	Name          string
	Width, Height int
	Fit           Fit
}

// Variant is one made variant: its encoded bytes and what they are.
type Variant struct {
	Name          string
	Width, Height int
	ContentType   string
	Data          []byte
}

// JPEGQuality is the quality variants are written at.
const JPEGQuality = 82

var (
	// ErrTooLarge refuses an image whose header announces more pixels than
	// allowed: a decompression bomb is never decoded.
	ErrTooLarge = errors.New("image has too many pixels")
	// ErrUndecodable is an image that is not one of the formats, or is
	// truncated or corrupt.
	ErrUndecodable = errors.New("image cannot be decoded")
)

// Source is a decoded image, ready to make variants of.
type Source struct {
	Format      string // jpeg, png, gif or webp
	img         image.Image
	orientation int // EXIF, 1-8
	opaque      bool
}

// Width and Height are the source's as displayed (its orientation applied).
func (s *Source) Width() int  { w, _ := s.displaySize(); return w }
func (s *Source) Height() int { _, h := s.displaySize(); return h }

func (s *Source) displaySize() (int, int) {
	b := s.img.Bounds()
	if s.orientation >= 5 {
		return b.Dy(), b.Dx()
	}
	return b.Dx(), b.Dy()
}

// Decode reads an image from r. Its header is read first: an image of more
// than maxPixels pixels (0: no bound) is refused with ErrTooLarge before
// anything is allocated for its pixels.
func Decode(r io.Reader, maxPixels int64) (*Source, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %dx%d", ErrUndecodable, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); maxPixels > 0 && px > maxPixels {
		return nil, fmt.Errorf("%w: %s of %dx%d (%d pixels, at most %d)", ErrTooLarge, format, cfg.Width, cfg.Height, px, maxPixels)
	}
	// The header's bytes, then the rest: each decoder reads its format's
	// stream from the start.
	all := io.MultiReader(bytes.NewReader(head.Bytes()), r)
	var img image.Image
	switch format {
	case "jpeg":
		img, err = jpeg.Decode(all)
	case "png":
		img, err = png.Decode(all)
	case "gif":
		img, err = gif.Decode(all) // the first frame
	case "webp":
		img, err = webp.Decode(all)
	default:
		return nil, fmt.Errorf("%w: format %s", ErrUndecodable, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUndecodable, format, err)
	}
	if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > int64(cfg.Width)*int64(cfg.Height) {
		return nil, fmt.Errorf("%w: %s frame of %v in a %dx%d image", ErrUndecodable, format, b, cfg.Width, cfg.Height)
	}
	s := &Source{Format: format, img: img, orientation: 1, opaque: opaque(img)}
	if format == "jpeg" {
		s.orientation = jpegOrientation(head.Bytes())
	}
	return s, nil
}

// opaque reports whether img has no transparent pixel.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// Make makes the variant spec of s: shrunk, cropped for Cover, turned
// upright, encoded.
func (s *Source) Make(spec Spec) (Variant, error) {
	dw, dh, crop := s.layout(spec)
	small := resize(s.img, crop, dw, dh)
	small = orient(small, s.orientation)
	v := Variant{Name: spec.Name, Width: small.Bounds().Dx(), Height: small.Bounds().Dy()}
	var buf bytes.Buffer
	var err error
	if s.opaque {
		v.ContentType = "image/jpeg"
		err = jpeg.Encode(&buf, small, &jpeg.Options{Quality: JPEGQuality})
	} else {
		v.ContentType = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, small)
	}
	if err != nil {
		return Variant{}, fmt.Errorf("encoding %s: %w", v.ContentType, err)
	}
	v.Data = buf.Bytes()
	return v, nil
}

// layout returns the size to shrink to, in the source's stored orientation,
// and the part of the source to shrink.
func (s *Source) layout(spec Spec) (dw, dh int, crop image.Rectangle) {
	ow, oh := s.displaySize()
	bw, bh := spec.Width, spec.Height
	crop = s.img.Bounds()
	var w, h int
	if spec.Fit == Cover {
		// The middle of the image, in the box's shape, at most the box.
		w, h = ow, ow*bh/bw
		if h > oh {
			w, h = oh*bw/bh, oh
		}
		w, h = max(w, 1), max(h, 1)
		cw, ch := w, h
		if s.orientation >= 5 {
			cw, ch = h, w
		}
		x0 := crop.Min.X + (crop.Dx()-cw)/2
		y0 := crop.Min.Y + (crop.Dy()-ch)/2
		crop = image.Rect(x0, y0, x0+cw, y0+ch)
		if w > bw {
			w, h = bw, bh
		}
	} else {
		w, h = ow, oh
		if w > bw {
			w, h = bw, max(1, int((int64(oh)*int64(bw)+int64(ow)/2)/int64(ow)))
		}
		if h > bh {
			w, h = max(1, int((int64(ow)*int64(bh)+int64(oh)/2)/int64(oh))), bh
		}
	}
	if s.orientation >= 5 {
		w, h = h, w
	}
	return w, h, crop
}

// resize shrinks the crop of src to dw x dh: by an area average to about
// twice that size when it is larger, then by Catmull-Rom.
func resize(src image.Image, crop image.Rectangle, dw, dh int) *image.RGBA {
	cur, curRect := src, crop
	if iw, ih := 2*dw, 2*dh; crop.Dx() > iw || crop.Dy() > ih {
		iw, ih = min(iw, crop.Dx()), min(ih, crop.Dy())
		var box *image.RGBA
		switch m := src.(type) {
		case *image.YCbCr:
			box = boxYCbCr(m, crop, iw, ih)
		case *image.RGBA:
			box = boxRGBA(m, crop, iw, ih)
		default:
			// Premultiplied first: averaging then sees no colour under a
			// transparent pixel.
			rgba := image.NewRGBA(image.Rect(0, 0, crop.Dx(), crop.Dy()))
			draw.Draw(rgba, rgba.Bounds(), src, crop.Min, draw.Src)
			box = boxRGBA(rgba, rgba.Bounds(), iw, ih)
		}
		cur, curRect = box, box.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	if curRect.Dx() == dw && curRect.Dy() == dh {
		draw.Draw(dst, dst.Bounds(), cur, curRect.Min, draw.Src)
		return dst
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), cur, curRect, draw.Src, nil)
	return dst
}

// spans splits [lo, lo+n) into m consecutive runs as even as integers
// allow: run i is [out[i], out[i+1]).
func spans(lo, n, m int) []int {
	out := make([]int, m+1)
	for i := range out {
		out[i] = lo + int(int64(i)*int64(n)/int64(m))
	}
	return out
}

// boxYCbCr averages r of m into w x h areas, reading the Y plane and the
// subsampled chroma planes directly, and converts each average to RGB.
func boxYCbCr(m *image.YCbCr, r image.Rectangle, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	hs, vs := chromaShift(m.SubsampleRatio)
	xs, ys := spans(r.Min.X, r.Dx(), w), spans(r.Min.Y, r.Dy(), h)
	cx0 := m.Rect.Min.X >> hs
	cy0 := m.Rect.Min.Y >> vs
	for oy := 0; oy < h; oy++ {
		y0, y1 := ys[oy], ys[oy+1]
		cya, cyb := y0>>vs, ((y1-1)>>vs)+1
		row := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < w; ox++ {
			x0, x1 := xs[ox], xs[ox+1]
			var sy uint32
			for y := y0; y < y1; y++ {
				p := m.Y[(y-m.Rect.Min.Y)*m.YStride+(x0-m.Rect.Min.X):]
				for _, v := range p[:x1-x0] {
					sy += uint32(v)
				}
			}
			cxa, cxb := x0>>hs, ((x1-1)>>hs)+1
			var sb, sr uint32
			for cy := cya; cy < cyb; cy++ {
				off := (cy-cy0)*m.CStride + (cxa - cx0)
				cb, cr := m.Cb[off:off+cxb-cxa], m.Cr[off:off+cxb-cxa]
				for i := range cb {
					sb += uint32(cb[i])
					sr += uint32(cr[i])
				}
			}
			n := uint32((y1 - y0) * (x1 - x0))
			cn := uint32((cyb - cya) * (cxb - cxa))
			R, G, B := color.YCbCrToRGB(uint8((sy+n/2)/n), uint8((sb+cn/2)/cn), uint8((sr+cn/2)/cn))
			o := row[4*ox : 4*ox+4 : 4*ox+4]
			o[0], o[1], o[2], o[3] = R, G, B, 0xff
		}
	}
	return dst
}

// chromaShift returns how many bits a pixel's x and y are shifted to find
// its chroma sample.
func chromaShift(r image.YCbCrSubsampleRatio) (hs, vs int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

// boxRGBA averages r of m (premultiplied) into w x h areas.
func boxRGBA(m *image.RGBA, r image.Rectangle, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xs, ys := spans(r.Min.X, r.Dx(), w), spans(r.Min.Y, r.Dy(), h)
	for oy := 0; oy < h; oy++ {
		y0, y1 := ys[oy], ys[oy+1]
		row := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < w; ox++ {
			x0, x1 := xs[ox], xs[ox+1]
			var s0, s1, s2, s3 uint32
			for y := y0; y < y1; y++ {
				p := m.Pix[m.PixOffset(x0, y):]
				p = p[:4*(x1-x0)]
				for i := 0; i+3 < len(p); i += 4 {
					s0 += uint32(p[i])
					s1 += uint32(p[i+1])
					s2 += uint32(p[i+2])
					s3 += uint32(p[i+3])
				}
			}
			n := uint32((y1 - y0) * (x1 - x0))
			o := row[4*ox : 4*ox+4 : 4*ox+4]
			o[0], o[1], o[2], o[3] = uint8((s0+n/2)/n), uint8((s1+n/2)/n), uint8((s2+n/2)/n), uint8((s3+n/2)/n)
		}
	}
	return dst
}

// orient turns m, stored with EXIF orientation o, upright.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return m
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	W, H := w, h // displayed size
	if o >= 5 {
		W, H = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, W, H))
	for dy := 0; dy < H; dy++ {
		for dx := 0; dx < W; dx++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = W-1-dx, dy
			case 3:
				sx, sy = W-1-dx, H-1-dy
			case 4:
				sx, sy = dx, H-1-dy
			case 5:
				sx, sy = dy, dx
			case 6:
				sx, sy = dy, W-1-dx
			case 7:
				sx, sy = H-1-dy, W-1-dx
			case 8:
				sx, sy = H-1-dy, dx
			}
			copy(dst.Pix[dst.PixOffset(dx, dy):][:4], m.Pix[m.PixOffset(sx, sy):][:4])
		}
	}
	return dst
}
