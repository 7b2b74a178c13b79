// Package scalar marshals the GraphQL scalars whose parsing can fail on
// client input (ID and Cursor). A failure is an *InputError, so the error
// presenter can answer BAD_USER_INPUT instead of a masked internal error.
package scalar

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/filegraph/filegraph/ent/schema"
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

// MarshalMetadata writes a file's metadata as a JSON object; {} for none.
func MarshalMetadata(m schema.Metadata) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if m == nil {
			m = schema.Metadata{}
		}
		b, _ := json.Marshal(map[string]string(m)) // a map of strings always marshals
		w.Write(b)
	})
}

// UnmarshalMetadata reads a JSON object of string values. The rules
// (internal/files) judge its keys and sizes; here only its shape.
func UnmarshalMetadata(v any) (schema.Metadata, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &InputError{Scalar: "JSON", Err: fmt.Errorf("metadata must be an object of string values, got %s", jsonKind(v))}
	}
	out := make(schema.Metadata, len(obj))
	for k, v := range obj {
		s, ok := v.(string)
		if !ok {
			return nil, &InputError{Scalar: "JSON", Err: fmt.Errorf("metadata key %.64q: the value must be a string, got %s", k, jsonKind(v))}
		}
		out[k] = s
	}
	return out, nil
}

// jsonKind names the JSON kind of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return "a number"
	}
}
