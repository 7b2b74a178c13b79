package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// httpTransport serves GraphQL over HTTP, GET and POST, as the GraphQL over
// HTTP spec has it; gqlgen's own GET and POST transports differ from it in
// the status codes below, so Filegraph plugs in this one instead.
//
//   - A request that is not a well-formed GraphQL-over-HTTP request (no
//     query, a body that is not a JSON object of the right shape, bad
//     variables JSON) is 400, whatever the Accept header.
//   - A POST whose body is not declared JSON is 415: pages on other sites
//     can send text/plain, form and multipart bodies without a preflight,
//     never JSON (CSRF). A body over MaxBodyBytes is 413.
//   - A request error (the document does not parse or validate, or a limit
//     refuses it) is 200 under application/json and 400 under
//     application/graphql-response+json, and its answer has no "data".
//   - A mutation over GET is 405 with an Allow header.
//   - An executed operation is 200, field errors or not.
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

// requestError is the answer to a request that never ran: errors and no
// "data" entry.
type requestError struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media)
	refuse := func(status int, list gqlerror.List) {
		resp := exec.DispatchError(ctx, list)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(requestError{Errors: resp.Errors, Extensions: resp.Extensions})
	}
	malformed := func(format string, args ...any) {
		refuse(http.StatusBadRequest, gqlerror.List{gqlerror.Errorf(format, args...)})
	}

	params := &graphql.RawParams{Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	if r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaJSON {
			refuse(http.StatusUnsupportedMediaType, gqlerror.List{gqlerror.Errorf("POST requests must have Content-Type: application/json")})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				refuse(http.StatusRequestEntityTooLarge, gqlerror.List{gqlerror.Errorf("request body is over %d bytes", MaxBodyBytes)})
				return
			}
			malformed("could not read the request body")
			return
		}
		if err := decode(bytes.NewReader(body), params); err != nil {
			malformed("the body is not a GraphQL request (a JSON object with a query string, and variables, operationName and extensions of the right types): %v", err)
			return
		}
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			malformed("the query string does not parse: %v", err)
			return
		}
		params.Query, params.OperationName = q.Get("query"), q.Get("operationName")
		for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
			if v := q.Get(name); v != "" {
				if err := decode(strings.NewReader(v), dst); err != nil {
					malformed("%s is not a JSON object: %v", name, err)
					return
				}
			}
		}
	}
	// Automatic persisted queries send a hash in place of the query.
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		malformed("the request has no query")
		return
	}
	params.ReadTime.End = graphql.Now()

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		refuse(status, errs)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "GET, POST")
		refuse(http.StatusMethodNotAllowed, gqlerror.List{gqlerror.Errorf("GET requests only allow queries; send a %s as a POST", opCtx.Operation.Operation)})
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if onlyData(resp) {
		// gqlgen has written data as JSON already: encoding/json would only
		// scan and copy it again.
		w.Header().Set("Content-Length", strconv.Itoa(len(`{"data":}`)+len(resp.Data)))
		io.WriteString(w, `{"data":`)
		w.Write(resp.Data)
		io.WriteString(w, "}")
		return
	}
	b, err := json.Marshal(resp)
	if err != nil { // a bug: the presenter logs and masks it
		refuse(http.StatusInternalServerError, gqlerror.List{{Message: "encoding the response", Err: fmt.Errorf("graph: encoding a response: %w", err)}})
		return
	}
	w.Write(b)
}

// onlyData reports whether resp is data and nothing else, as most answers are.
func onlyData(resp *graphql.Response) bool {
	return len(resp.Data) > 0 && len(resp.Errors) == 0 && len(resp.Extensions) == 0 &&
		resp.Label == "" && resp.Path == nil && resp.HasNext == nil
}

// decode reads a JSON value as gqlgen does: numbers stay exact. A POST's
// body is read in place (a string of it was one more copy per request).
func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec.Decode(v)
}

// responseType picks the media type of the answer from Accept: the first
// of the two GraphQL media types it names, application/json when it names
// none or any (legacy clients), and the spec's own type otherwise.
func responseType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}
