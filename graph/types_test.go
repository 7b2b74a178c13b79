package graph

import (
	"os"
	"strings"
	"testing"
)

// TestNoStorageTypesInTheAPI: no schema type is bound to a storage type, so
// a refactor of package storage cannot change what the API promises.
func TestNoStorageTypesInTheAPI(t *testing.T) {
	b, err := os.ReadFile("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "internal/storage") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Errorf("gqlgen.yml:%d binds a schema type to package storage: %s", i+1, strings.TrimSpace(line))
		}
	}
}
