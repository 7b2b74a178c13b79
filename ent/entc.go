//go:build ignore

package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

// Run from the repository root by generate.go, so paths start there.
func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./graph/ent.graphqls"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(true),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	// The server applies the committed migrations (internal/database) and
	// never asks ent to create or diff a schema, so the client is made
	// without ent's Migrate feature: with it, ent.Client.Schema would link
	// ent's migration engine and Atlas's dialects (an HCL interpreter among
	// them) into the server. migrate/schema.go, the tables that diff.go and
	// the migration tests compare against, is still written by ent's own
	// template, from a file the server does not import.
	sql, err := gen.NewStorage("sql")
	if err != nil {
		log.Fatal(err)
	}
	storage := *sql
	storage.SchemaMode &^= gen.Migrate
	tables := gen.MustParse(gen.NewTemplate("tables").Parse(`{{ define "migrate/schema" }}{{ template "schema" $ }}{{ end }}`))
	entities := gen.MustParse(gen.NewTemplate("federation").Parse(federation))
	if err := entc.Generate("./ent/schema", &gen.Config{
		Storage:   &storage,
		Templates: []*gen.Template{tables, entities},
		// execquery: raw SQL for sums and advisory locks inside ent transactions.
		Features: []gen.Feature{gen.FeatureExecQuery},
	}, entc.Extensions(ex), entc.BuildTags("codegen")); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
	if err := importRuntimeCopy("./ent"); err != nil {
		log.Fatalf("pointing generated code at ent/entgql: %v", err)
	}
}

// federation writes ent/federation.go: the types graph/federation.graphqls
// makes Federation entities (@key) implement gqlgen's fedruntime.Entity,
// which the _entities union's members must. ent writes every file of the
// package, so this one is written with them.
const federation = `{{ define "federation" }}
{{ template "header" $ }}
// IsEntity marks File as a Federation entity (graph/federation.graphqls).
func (*File) IsEntity() {}
{{ end }}`

// importRuntimeCopy makes the code generated into dir import ent/entgql,
// the copy of entgql's run-time types, instead of entgql, which would link
// its generator into the server (see ent/entgql).
func importRuntimeCopy(dir string) error {
	const (
		upstream = `"entgo.io/contrib/entgql"`
		copied   = `"github.com/filegraph/filegraph/ent/entgql"`
	)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("// Code generated")) || !bytes.Contains(b, []byte(upstream)) {
			continue
		}
		b, err = format.Source(bytes.ReplaceAll(b, []byte(upstream), []byte(copied)))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
