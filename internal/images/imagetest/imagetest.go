// Package imagetest makes the images tests of variants upload: a JPEG with
// an EXIF orientation, a PNG with transparency, a GIF, a WebP (x/image's
// test file), all with a red mark in the top-left corner as displayed
// (for the JPEG, as stored), so a test can tell which way a variant is up.
package imagetest

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// WebP is a lossy 3-colour WebP of WebPWidth x WebPHeight from
// golang.org/x/image's testdata.
//
//go:embed testdata/blue-purple-pink.lossy.webp
var WebP []byte

// WebP's size.
const WebPWidth, WebPHeight = 150, 100

// Marked is a w x h image, grey, with a red quarter-size square at its
// top-left corner; alpha sets every pixel's alpha but the mark's.
func Marked(w, h int, alpha uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{128, 128, 128, alpha}
			if x < w/4 && y < h/4 {
				c = color.NRGBA{255, 0, 0, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// JPEG is a w x h JPEG (quality 90) whose EXIF says orientation o (1-8; 0
// for no EXIF at all).
func JPEG(w, h int, o uint16) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Marked(w, h, 255), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	if o == 0 {
		return b.Bytes()
	}
	return withOrientation(b.Bytes(), o)
}

// PNG is a w x h PNG, half transparent but for its mark.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, Marked(w, h, 128)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GIF is a w x h GIF of two frames, the first the marked one.
func GIF(w, h int) []byte {
	pal := color.Palette{color.RGBA{128, 128, 128, 255}, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	first := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	second := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < w/4 && y < h/4 {
				first.SetColorIndex(x, y, 1)
			}
			second.SetColorIndex(x, y, 2)
		}
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{10, 10}}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Photo is a w x h JPEG (quality 90) with detail everywhere, as a camera's
// photo has (a flat image decodes faster than a real one).
func Photo(w, h int) []byte {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Y[y*m.YStride+x] = uint8((x*7 + y*13 + (x*y)>>7) & 0xff)
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(i * 31 >> 4)
		m.Cr[i] = uint8(255 - i*17>>5)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
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
