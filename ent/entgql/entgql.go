// Package entgql is the run-time half of entgo.io/contrib/entgql: the Relay
// cursor, page info and order direction that the generated GraphQL code in
// package ent uses. entgql keeps these in the same package as its code
// generator, so importing it links the generator (entc, gqlgen's codegen,
// go/types, Atlas's dialects) into the server and runs their package
// initialisation at every start. ent/entc.go points the generated code here
// instead; entgql's generator still writes it.
//
// The code is entgql v0.7.0's (pagination.go and error.go, Apache License
// 2.0, Copyright 2019-present Facebook), cut to what the generated code
// calls. Cursors are encoded exactly as entgql encodes them, so a cursor one
// build issued is read by the next (entgql_test.go compares the two).
package entgql

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vmihailenco/msgpack/v5"
)

// OrderDirection defines the directions in which to order a list of items.
type OrderDirection string

const (
	// OrderDirectionAsc specifies an ascending order.
	OrderDirectionAsc OrderDirection = "ASC"
	// OrderDirectionDesc specifies a descending order.
	OrderDirectionDesc OrderDirection = "DESC"
)

// Validate the order direction value.
func (o OrderDirection) Validate() error {
	if o != OrderDirectionAsc && o != OrderDirectionDesc {
		return fmt.Errorf("%s is not a valid OrderDirection", o)
	}
	return nil
}

// String implements fmt.Stringer interface.
func (o OrderDirection) String() string {
	return string(o)
}

// OrderTermOption returns the OrderTermOption for setting the order direction.
func (o OrderDirection) OrderTermOption() sql.OrderTermOption {
	if o == OrderDirectionAsc {
		return sql.OrderAsc()
	}
	return sql.OrderDesc()
}

// MarshalGQL implements graphql.Marshaler interface.
func (o OrderDirection) MarshalGQL(w io.Writer) {
	io.WriteString(w, strconv.Quote(o.String()))
}

// UnmarshalGQL implements graphql.Unmarshaler interface.
func (o *OrderDirection) UnmarshalGQL(val any) error {
	str, ok := val.(string)
	if !ok {
		return fmt.Errorf("order direction %T must be a string", val)
	}
	*o = OrderDirection(str)
	return o.Validate()
}

// Reverse the direction.
func (o OrderDirection) Reverse() OrderDirection {
	if o == OrderDirectionDesc {
		return OrderDirectionAsc
	}
	return OrderDirectionDesc
}

// PageInfo of a connection type.
type PageInfo[T any] struct {
	HasNextPage     bool       `json:"hasNextPage"`
	HasPreviousPage bool       `json:"hasPreviousPage"`
	StartCursor     *Cursor[T] `json:"startCursor"`
	EndCursor       *Cursor[T] `json:"endCursor"`
}

// Cursor of an edge type.
type Cursor[T any] struct {
	ID    T         `msgpack:"i"`
	Value ent.Value `msgpack:"v,omitempty"`
}

// MarshalGQL implements graphql.Marshaler interface.
func (c Cursor[T]) MarshalGQL(w io.Writer) {
	quote := []byte{'"'}
	w.Write(quote)
	defer w.Write(quote)
	wc := base64.NewEncoder(base64.RawStdEncoding, w)
	defer wc.Close()
	_ = msgpack.NewEncoder(wc).Encode(c)
}

// UnmarshalGQL implements graphql.Unmarshaler interface.
func (c *Cursor[T]) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%T is not a string", v)
	}
	if err := msgpack.NewDecoder(
		base64.NewDecoder(
			base64.RawStdEncoding,
			strings.NewReader(s),
		),
	).Decode(c); err != nil {
		return fmt.Errorf("cannot decode cursor: %w", err)
	}
	return nil
}

// CursorsPredicate converts the given cursors to predicates.
func CursorsPredicate[T any](after, before *Cursor[T], idField, field string, direction OrderDirection) []func(s *sql.Selector) {
	var predicates []func(s *sql.Selector)
	for _, cursor := range []*Cursor[T]{after, before} {
		if cursor == nil {
			continue
		}
		if cursor.Value != nil {
			var predicate func([]string, ...any) *sql.Predicate
			if direction == OrderDirectionAsc {
				predicate = sql.CompositeGT
			} else {
				predicate = sql.CompositeLT
			}
			predicates = append(predicates, func(s *sql.Selector) {
				s.Where(sql.P(func(b *sql.Builder) {
					// The predicate function is executed on query generation time.
					column := s.C(field)
					// If there is a non-ambiguous match, we use it. That is because
					// some order terms may append joined information to query selection.
					if matches := s.FindSelection(field); len(matches) == 1 {
						column = matches[0]
					}
					b.Join(predicate([]string{column, s.C(idField)}, cursor.Value, cursor.ID))
				}))
			})
		} else {
			if direction == OrderDirectionAsc {
				predicates = append(predicates, sql.FieldGT(idField, cursor.ID))
			} else {
				predicates = append(predicates, sql.FieldLT(idField, cursor.ID))
			}
		}
	}
	return predicates
}

// ErrNodeNotFound creates a node not found graphql error.
func ErrNodeNotFound(id any) *gqlerror.Error {
	err := gqlerror.Errorf("Could not resolve to a node with the global id of '%v'", id)
	errcode.Set(err, "NOT_FOUND")
	return err
}
