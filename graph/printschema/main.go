// Command printschema writes the API's schema as clients see it (the
// generated executable schema, without gqlgen's Go-binding directives and
// federation's) to the file named by its first argument, and the subgraph
// SDL a supergraph composes from (what _service { sdl } answers) to the
// second. go generate runs it to keep the repo's schema.graphql, which
// client code generators read, and subgraph.graphql, which rover and
// @apollo/composition read, in step with graph/.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/filegraph/filegraph/graph"
)

// bindingDirectives tell gqlgen how to map the schema onto Go, and
// federation's tell a router how to join subgraphs; they mean nothing to a
// client.
var bindingDirectives = []string{"goModel", "goField", "goTag", "goExtraField", "goEnum", "entityResolver", "key", "link"}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: printschema SCHEMA_FILE SUBGRAPH_FILE")
		os.Exit(2)
	}
	es := graph.NewExecutableSchema(graph.Config{})
	sdl, err := subgraphSDL(es)
	if err != nil {
		fmt.Fprintln(os.Stderr, "printschema: asking _service for the subgraph SDL:", err)
		os.Exit(1)
	}
	schema := es.Schema()
	for _, name := range bindingDirectives {
		delete(schema.Directives, name)
	}
	schema.SchemaDirectives = strip(schema.SchemaDirectives)
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
	if err := os.WriteFile(os.Args[2], []byte(sdl), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// subgraphSDL runs { _service { sdl } } against the schema, so the file is
// exactly what a running Filegraph answers a router.
func subgraphSDL(es graphql.ExecutableSchema) (string, error) {
	exec := executor.New(es)
	exec.Use(extension.Introspection{})
	ctx := graphql.StartOperationTrace(context.Background())
	oc, gerrs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: "{ _service { sdl } }"})
	if gerrs != nil {
		return "", gerrs
	}
	handler, ctx := exec.DispatchOperation(ctx, oc)
	resp := handler(ctx)
	if len(resp.Errors) > 0 {
		return "", resp.Errors
	}
	var data struct {
		Service struct{ SDL string } `json:"_service"`
	}
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		return "", err
	}
	return data.Service.SDL, nil
}

func strip(list ast.DirectiveList) ast.DirectiveList {
	return slices.DeleteFunc(list, func(d *ast.Directive) bool { return slices.Contains(bindingDirectives, d.Name) })
}
