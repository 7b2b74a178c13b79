// Package scalar marshals the GraphQL scalars whose parsing can fail on
// client input (ID and Cursor). A failure is an *InputError, so the error
// presenter can answer BAD_USER_INPUT instead of a masked internal error.
package scalar

import (
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// InputError reports a scalar value the client sent that does not parse.
type InputError struct {
	Scalar string
	Err    error
}

func (e *InputError) Error() string { return fmt.Sprintf("invalid %s: %v", e.Scalar, e.Err) }

func (e *InputError) Unwrap() error { return e.Err }

// MarshalUUID writes an ID.
func MarshalUUID(id uuid.UUID) graphql.Marshaler {
	return graphql.MarshalString(id.String())
}

// UnmarshalUUID reads an ID, which must be a UUID.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, &InputError{Scalar: "ID", Err: fmt.Errorf("%T is not a string", v)}
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, &InputError{Scalar: "ID", Err: fmt.Errorf("%q is not a UUID", s)}
	}
	return id, nil
}

// Int64, Int and Time use gqlgen's codecs; only their errors are typed.

// MarshalInt64 writes an Int64 as a JSON number.
func MarshalInt64(v int64) graphql.Marshaler { return graphql.MarshalInt64(v) }

// UnmarshalInt64 reads an Int64.
func UnmarshalInt64(v any) (int64, error) { return typed("Int64", graphql.UnmarshalInt64)(v) }

// MarshalInt writes an Int.
func MarshalInt(v int) graphql.Marshaler { return graphql.MarshalInt(v) }

// UnmarshalInt reads an Int.
func UnmarshalInt(v any) (int, error) { return typed("Int", graphql.UnmarshalInt)(v) }

// MarshalTime writes RFC 3339 time.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads RFC 3339 time.
func UnmarshalTime(v any) (time.Time, error) { return typed("Time", graphql.UnmarshalTime)(v) }

func typed[T any](name string, f func(any) (T, error)) func(any) (T, error) {
	return func(v any) (T, error) {
		t, err := f(v)
		if err != nil {
			return t, &InputError{Scalar: name, Err: err}
		}
		return t, nil
	}
}
