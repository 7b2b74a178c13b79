package graph

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/filegraph/filegraph/internal/config"
	"github.com/filegraph/filegraph/internal/files"
)

// The web client's documents (its persisted-documents manifest) pass the
// default depth and complexity limits at their largest page: the Files
// document asks every file's downloadUrl, which is priced per item, and a
// server on its defaults must not refuse the demo's list.
func TestWebDocumentsWithinDefaultLimits(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	maxDepth, maxComplexity := cfg.GraphQL.MaxDepth, cfg.GraphQL.MaxComplexity
	data, err := os.ReadFile("../web/src/gql/persisted-documents.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]string
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	es := NewSchema(nil, nil)
	var names []string
	for _, text := range manifest {
		doc, err := parser.ParseQuery(&ast.Source{Input: text})
		if err != nil {
			t.Fatal(err)
		}
		if errs := validator.Validate(es.Schema(), doc); len(errs) > 0 {
			t.Fatalf("%s: %v", text, errs)
		}
		for _, op := range doc.Operations {
			// The largest page a list may ask for.
			vars := map[string]any{}
			for _, v := range op.VariableDefinitions {
				if v.Variable == "first" || v.Variable == "last" {
					vars[v.Variable] = files.MaxPageSize
				}
			}
			v, _ := assess(context.Background(), es, op, vars)
			t.Logf("%s %v: complexity %d, depth %d", op.Name, vars, v.complexity, v.depth)
			if v.complexity > maxComplexity || v.depth > maxDepth {
				t.Errorf("%s at %v: complexity %d (limit %d), depth %d (limit %d)", op.Name, vars, v.complexity, maxComplexity, v.depth, maxDepth)
			}
			names = append(names, op.Name)
		}
	}
	sort.Strings(names)
	if i := sort.SearchStrings(names, "Files"); i == len(names) || names[i] != "Files" {
		t.Fatalf("no Files document in the manifest: %v", names)
	}
}
