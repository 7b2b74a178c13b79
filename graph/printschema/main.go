// Command printschema writes the API's schema as clients see it (the
// generated executable schema, without gqlgen's Go-binding directives) to
// the file named by its argument. go generate runs it to keep the repo's
// schema.graphql, which client code generators read, in step with graph/.
package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/filegraph/filegraph/graph"
)

// bindingDirectives tell gqlgen how to map the schema onto Go; they mean
// nothing to a client.
var bindingDirectives = []string{"goModel", "goField", "goTag", "goExtraField", "goEnum"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: printschema FILE")
		os.Exit(2)
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, name := range bindingDirectives {
		delete(schema.Directives, name)
	}
	for _, def := range schema.Types {
		def.Directives = strip(def.Directives)
		for _, f := range def.Fields {
			f.Directives = strip(f.Directives)
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# The Filegraph API as clients see it. Written by `go generate ./...` from\n# graph/*.graphqls; do not edit. Point client code generators here.\n\n")
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).FormatSchema(schema)
	if err := os.WriteFile(os.Args[1], buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func strip(list ast.DirectiveList) ast.DirectiveList {
	return slices.DeleteFunc(list, func(d *ast.Directive) bool { return slices.Contains(bindingDirectives, d.Name) })
}
