package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Collection is an upload profile COLLECTIONS_FILE defines: the rules for
// the files an app uploads for one purpose (avatars, documents, ...). Its
// limits only tighten the global ones, which govern the collection named
// DefaultCollection.
type Collection struct {
	Name string
	// AllowedContentTypes are media types or type/* patterns, each within
	// ALLOWED_CONTENT_TYPES; empty: ALLOWED_CONTENT_TYPES.
	AllowedContentTypes []string
	// MaxFileSize is at most MAX_UPLOAD_SIZE; 0: MAX_UPLOAD_SIZE.
	MaxFileSize int64
	// MaxFilesPerRequest bounds the files of one call in this collection;
	// 0: only the API's bound on every call.
	MaxFilesPerRequest int
	// Public files get stable unsigned URLs and keys under public/.
	Public bool
	// Variants are the images made of each image saved in the collection
	// (thumbnails, previews), in the file's order. The entry named
	// DefaultCollection may have only these: they are made of files saved
	// without a collection.
	Variants []Variant
}

// Variant is an image made of each saved image: at most Width x Height
// pixels, the whole image fitted inside (Fit "inside") or its middle
// cropped to the box (Fit "cover").
type Variant struct {
	Name          string
	Width, Height int
	Fit           string
}

// Bounds of the variants: a variant is a small image made in the
// background, kept in memory while it is encoded.
const (
	maxVariants    = 8
	maxVariantSide = 4096
)

// DefaultCollection is the collection of uploads that name none, governed
// by the global settings; a collections file cannot redefine it.
const DefaultCollection = "default"

// maxFilesPerCall is the API's bound on the files of one call, which a
// collection's maxFilesPerRequest cannot raise (files.MaxFilesPerCall).
const maxFilesPerCall = 100

// maxCollectionName bounds a name, which goes into public keys and URLs.
const maxCollectionName = 64

// collectionFields are the fields a collection may have, in the order a
// message lists them.
var collectionFields = []string{"allowedContentTypes", "maxFileSize", "maxFilesPerRequest", "public", "variants"}

// loadCollections reads the collections file at path. Every problem is
// reported, each naming the collection, the field and what is wrong, so an
// operator fixes the file in one pass.
func loadCollections(path string, maxUpload int64, globalTypes []string) ([]Collection, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the collections file: %w", err)
	}
	cs, err := ParseCollections(data, maxUpload, globalTypes)
	var errs []error
	for _, e := range unjoin(err) {
		errs = append(errs, fmt.Errorf("%s: %w", path, e))
	}
	return cs, errors.Join(errs...)
}

// ParseCollections reads a collections file (YAML, or JSON, which is YAML
// too) against the global MAX_UPLOAD_SIZE and ALLOWED_CONTENT_TYPES, which
// its collections may only tighten. Collections come back in the file's
// order.
func ParseCollections(data []byte, maxUpload int64, globalTypes []string) ([]Collection, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("must be a mapping with one key, collections (see the README)")
	}
	var (
		errs []error
		list *yaml.Node
	)
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "collections" {
			errs = append(errs, fmt.Errorf("line %d: unknown key %q; the file has one key, collections", k.Line, k.Value))
			continue
		}
		list = v
	}
	if list == nil {
		return nil, errors.Join(append(errs, errors.New("has no collections key"))...)
	}
	if list.Kind != yaml.MappingNode {
		return nil, errors.Join(append(errs, fmt.Errorf("line %d: collections must be a mapping of names to collections", list.Line))...)
	}
	var out []Collection
	seen := map[string]int{}
	for i := 0; i+1 < len(list.Content); i += 2 {
		k, v := list.Content[i], list.Content[i+1]
		if line, ok := seen[k.Value]; ok {
			errs = append(errs, fmt.Errorf("collection %q: line %d: already defined on line %d", k.Value, k.Line, line))
			continue
		}
		seen[k.Value] = k.Line
		c, cerrs := parseCollection(k, v, maxUpload, globalTypes)
		for _, e := range cerrs {
			errs = append(errs, fmt.Errorf("collection %q: %w", k.Value, e))
		}
		out = append(out, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parseCollection reads one collection, named by k, from v.
func parseCollection(k, v *yaml.Node, maxUpload int64, globalTypes []string) (Collection, []error) {
	c := Collection{Name: k.Value}
	var errs []error
	bad := func(n *yaml.Node, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("field %s (line %d): %s", field, n.Line, fmt.Sprintf(format, args...)))
	}
	isDefault := k.Value == DefaultCollection
	if msg := checkCollectionName(k.Value); msg != "" && !isDefault {
		errs = append(errs, fmt.Errorf("line %d: name %s", k.Line, msg))
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return c, errs // no fields: the global rules, under another name
	}
	if v.Kind != yaml.MappingNode {
		return c, append(errs, fmt.Errorf("line %d: must be a mapping of %s", v.Line, strings.Join(collectionFields, ", ")))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		fk, fv := v.Content[i], v.Content[i+1]
		if seen[fk.Value] {
			bad(fk, fk.Value, "given twice")
			continue
		}
		seen[fk.Value] = true
		if isDefault && fk.Value != "variants" {
			bad(fk, fk.Value, "the default collection is governed by the global settings; only its variants can be set here")
			continue
		}
		switch name := fk.Value; name {
		case "allowedContentTypes":
			if fv.Kind != yaml.SequenceNode {
				bad(fv, name, "must be a list of media types such as [image/png, \"text/*\"]")
				continue
			}
			if len(fv.Content) == 0 {
				bad(fv, name, "is empty: omit it to allow what ALLOWED_CONTENT_TYPES allows")
			}
			for _, item := range fv.Content {
				t, err := mediaRange(strings.TrimSpace(item.Value))
				switch {
				case item.Kind != yaml.ScalarNode:
					bad(item, name, "must list media types as strings")
				case err != nil:
					bad(item, name, "%v", err)
				case !withinTypes(t, globalTypes):
					bad(item, name, "%q is not allowed by ALLOWED_CONTENT_TYPES (%s): a collection can only narrow it", t, strings.Join(globalTypes, ","))
				default:
					c.AllowedContentTypes = append(c.AllowedContentTypes, t)
				}
			}
		case "maxFileSize":
			n, err := ParseSize(fv.Value)
			switch {
			case fv.Kind != yaml.ScalarNode || err != nil:
				bad(fv, name, "%q is not a size such as 2MiB or 1048576", fv.Value)
			case n < 1:
				bad(fv, name, "must be at least 1 byte")
			case n > maxUpload:
				bad(fv, name, "%s (%d bytes) is over MAX_UPLOAD_SIZE (%d bytes): a collection can only lower it", fv.Value, n, maxUpload)
			default:
				c.MaxFileSize = n
			}
		case "maxFilesPerRequest":
			n, err := strconv.Atoi(fv.Value)
			if fv.Kind != yaml.ScalarNode || err != nil || n < 1 || n > maxFilesPerCall {
				bad(fv, name, "%q must be a whole number from 1 to %d", fv.Value, maxFilesPerCall)
				continue
			}
			c.MaxFilesPerRequest = n
		case "public":
			b, err := strconv.ParseBool(fv.Value)
			if fv.Kind != yaml.ScalarNode || fv.Tag != "!!bool" || err != nil {
				bad(fv, name, "%q must be true or false", fv.Value)
				continue
			}
			c.Public = b
		case "variants":
			c.Variants = parseVariants(fv, bad)
		default:
			bad(fk, name, "unknown field; a collection has %s", strings.Join(collectionFields, ", "))
		}
	}
	return c, errs
}

// parseVariants reads a collection's variants: a mapping of names to
// {width, height, fit}.
func parseVariants(n *yaml.Node, bad func(n *yaml.Node, field, format string, args ...any)) []Variant {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		bad(n, "variants", "must be a mapping of names to {width, height, fit}, such as {thumb: {width: 256, height: 256, fit: cover}}")
		return nil
	}
	if len(n.Content)/2 > maxVariants {
		bad(n, "variants", "has %d variants, at most %d are allowed", len(n.Content)/2, maxVariants)
	}
	var out []Variant
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "variants." + k.Value
		if seen[k.Value] {
			bad(k, field, "given twice")
			continue
		}
		seen[k.Value] = true
		if msg := checkName(k.Value); msg != "" {
			bad(k, field, "name %s", msg)
		}
		if v.Kind != yaml.MappingNode {
			bad(v, field, "must be a mapping of width, height and fit")
			continue
		}
		vr := Variant{Name: k.Value}
		got := map[string]bool{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			sub := field + "." + fk.Value
			if got[fk.Value] {
				bad(fk, sub, "given twice")
				continue
			}
			got[fk.Value] = true
			switch fk.Value {
			case "width", "height":
				px, err := strconv.Atoi(fv.Value)
				if fv.Kind != yaml.ScalarNode || err != nil || px < 1 || px > maxVariantSide {
					bad(fv, sub, "%q must be a whole number of pixels from 1 to %d", fv.Value, maxVariantSide)
					continue
				}
				if fk.Value == "width" {
					vr.Width = px
				} else {
					vr.Height = px
				}
			case "fit":
				if fv.Kind != yaml.ScalarNode || fv.Value != "cover" && fv.Value != "inside" {
					bad(fv, sub, "%q must be cover (fill the box, cropping the middle) or inside (the whole image within the box)", fv.Value)
					continue
				}
				vr.Fit = fv.Value
			default:
				bad(fk, sub, "unknown field; a variant has width, height and fit")
			}
		}
		for _, f := range []string{"width", "height", "fit"} {
			if !got[f] {
				bad(v, field, "has no %s; a variant has width, height and fit", f)
			}
		}
		out = append(out, vr)
	}
	return out
}

// checkCollectionName reports what is wrong with a collection's name, or
// "". Names go into object keys (public/<name>/...) and URLs, so they are
// plain: letters, digits, - and _.
func checkCollectionName(name string) string {
	switch {
	case name == DefaultCollection:
		return "default is the collection the global settings govern; name yours otherwise"
	case name == "":
		return "must not be empty"
	}
	return checkName(name)
}

// checkName reports what is wrong with the name of a collection or a
// variant (both go into keys and URLs), or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > maxCollectionName:
		return fmt.Sprintf("is %d bytes long, at most %d are allowed", len(name), maxCollectionName)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return fmt.Sprintf("%q may hold only letters, digits, - and _", name)
		}
	}
	return ""
}

// withinTypes reports whether every type t allows is allowed by one of
// global (empty allows all): image/png and image/* are within image/*, but
// image/* is not within image/png.
func withinTypes(t string, global []string) bool {
	if len(global) == 0 {
		return true
	}
	typ, _, _ := strings.Cut(t, "/")
	for _, g := range global {
		if g == t || g == "*/*" || strings.HasSuffix(g, "/*") && strings.TrimSuffix(g, "/*") == typ {
			return true
		}
	}
	return false
}
