package files

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filegraph/filegraph/ent"
)

// Bounds on a files filter, far above what a UI builds and far below what
// the databases take (SQLite and PostgreSQL refuse statements with more
// than 32,766 or 65,535 parameters; a deep `not` chain exhausts the parser).
const (
	MaxWhereDepth = 8   // nested not/and/or
	MaxWhereList  = 100 // items in one list (idIn, fileNameIn, and, or, ...)
	MaxWhereTerms = 500 // list items and conditions in the whole filter
)

// checkWhere refuses a filter the database could not take as the client's
// mistake, before it is built into SQL: too deep, too long, or holding text
// no column can (NUL, invalid UTF-8). It walks the generated input by
// reflection, so filters ent adds later are covered too.
func checkWhere(w *ent.FileWhereInput) error {
	var ps problems
	terms := 0
	var walk func(path string, v reflect.Value, depth int)
	walk = func(path string, v reflect.Value, depth int) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			if v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem() != reflect.TypeFor[time.Time]() {
				if depth > MaxWhereDepth {
					ps.add(path, "nests filters more than %d deep", MaxWhereDepth)
					return
				}
				terms++
				walk(path, v.Elem(), depth+1)
				return
			}
			walk(path, v.Elem(), depth)
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				f := t.Field(i)
				if f.Name == "Predicates" { // added by the hand-written filters (filter.go)
					terms += v.Field(i).Len()
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				walk(path+"."+name, v.Field(i), depth)
			}
		case reflect.Slice:
			if v.Len() > MaxWhereList {
				ps.add(path, "lists %d items, at most %d are allowed", v.Len(), MaxWhereList)
				return
			}
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i), depth)
			}
		case reflect.String:
			terms++
			if msg := checkText(v.String()); msg != "" {
				ps.add(path, "%s", msg)
			}
		default:
			if !v.IsZero() { // a set flag (fileNameIsNil: true) or a value
				terms++
			}
		}
	}
	walk("where", reflect.ValueOf(w), 0)
	if terms > MaxWhereTerms {
		ps.add("where", "has %d conditions and list items, at most %d are allowed", terms, MaxWhereTerms)
	}
	return ps.err()
}

// checkText reports why a string cannot be compared with a text column,
// or "".
func checkText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	}
	return ""
}

// checkCursor reports why c cannot be a cursor of a listing in order, or
// "": its value must be of the order's column (a forged cursor could hold a
// map, a list, or another column's value, which the database refuses).
func checkCursor(c *ent.Cursor, order *ent.FileOrder) string {
	if c == nil {
		return ""
	}
	var ok bool
	switch order.Field.String() {
	case "FILE_NAME", "ORIGINAL_NAME":
		s, isString := c.Value.(string)
		ok = isString && checkText(s) == ""
	case "SIZE":
		k := reflect.ValueOf(c.Value).Kind()
		ok = reflect.Int <= k && k <= reflect.Uint64
	case "CREATED_AT":
		_, ok = c.Value.(time.Time)
	}
	if !ok {
		return fmt.Sprintf("is not a cursor of this listing ordered by %s", order.Field)
	}
	return ""
}
