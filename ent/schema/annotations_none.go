//go:build !codegen

package schema

import "entgo.io/ent/schema"

// Without the codegen tag (the server's build), field annotations are
// empty and the types keep ent.Schema's: see annotations.go.

func orderField(string) []schema.Annotation  { return nil }
func graphQLType(string) []schema.Annotation { return nil }
func notInAPI() []schema.Annotation          { return nil }
func notInWhere() []schema.Annotation        { return nil }
func ownedRows() []schema.Annotation         { return nil }
