package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of the trusted-documents refusals.
const (
	// CodePersistedQueryNotFound is the APQ code, so that clients that fall
	// back to sending the text on it (Apollo, urql) do so here too.
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	CodeUntrustedOperation     = "UNTRUSTED_OPERATION"
)

// TrustedDocuments lets only the operations of a persisted-documents
// manifest run: a request names one by its hash (extensions.persistedQuery
// .sha256Hash, as APQ clients send it) or sends its exact text. This is how
// a production API shuts out queries its own clients never make.
//
// It is a gqlgen operation-parameter mutator: it runs before parsing, so an
// untrusted document costs the server nothing, and it puts the manifest's
// text in place of a hash so that the extensions after it see plain queries.
type TrustedDocuments struct {
	byHash map[string]string   // hex SHA-256 → document
	byText map[string]struct{} // every document, for clients that send text
}

var (
	_ graphql.HandlerExtension          = (*TrustedDocuments)(nil)
	_ graphql.OperationParameterMutator = (*TrustedDocuments)(nil)
)

// LoadTrustedDocuments reads a manifest: a JSON object from hash to
// document, as graphql-codegen's client-preset writes it
// (persisted-documents.json). Keys may carry a "sha256:" prefix.
func LoadTrustedDocuments(path string) (*TrustedDocuments, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS: %w", err)
	}
	var manifest map[string]string
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS: %s is not a JSON object of hash to document: %w", path, err)
	}
	if len(manifest) == 0 {
		return nil, fmt.Errorf("GRAPHQL_TRUSTED_DOCUMENTS: %s lists no documents", path)
	}
	t := &TrustedDocuments{byHash: make(map[string]string, len(manifest)), byText: make(map[string]struct{}, len(manifest))}
	for hash, doc := range manifest {
		t.byHash[strings.ToLower(strings.TrimPrefix(hash, "sha256:"))] = doc
		t.byText[doc] = struct{}{}
	}
	return t, nil
}

// Len is the number of documents.
func (t *TrustedDocuments) Len() int { return len(t.byHash) }

func (*TrustedDocuments) ExtensionName() string                   { return "TrustedDocuments" }
func (*TrustedDocuments) Validate(graphql.ExecutableSchema) error { return nil }

func (t *TrustedDocuments) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if pq, ok := p.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ := pq["sha256Hash"].(string)
		doc, known := t.byHash[strings.ToLower(strings.TrimPrefix(hash, "sha256:"))]
		switch {
		case !known && p.Query == "":
			return refusal(CodePersistedQueryNotFound, "PersistedQueryNotFound")
		case known && (p.Query == "" || p.Query == doc):
			p.Query = doc
			// Handled: the APQ cache after this must not see it.
			delete(p.Extensions, "persistedQuery")
			return nil
		}
		// A hash that is not the text's, or an unknown hash with a text:
		// only the text can vouch for itself.
		delete(p.Extensions, "persistedQuery")
	}
	if _, ok := t.byText[p.Query]; ok {
		return nil
	}
	return refusal(CodeUntrustedOperation, "this server runs only the operations in its trusted documents (GRAPHQL_TRUSTED_DOCUMENTS), and this is not one of them: send one by its hash or its exact text")
}

func refusal(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}
