// Package graph is Filegraph's GraphQL API: the schema (schema.graphqls and
// the ent-generated ent.graphqls), resolvers that translate arguments and
// call internal/files, where every rule lives, and the HTTP handler.
//
// # How errors become codes
//
// Every error a client sees carries extensions.code. There are two places
// that decide, and nothing else does:
//
//   - presentError (handler.go) turns every error into its code: the files
//     service's *files.InvalidError is BAD_USER_INPUT with
//     extensions.problems, *files.LimitError is FORBIDDEN with
//     extensions.limit, *files.NotServableError (the virus scan holds the
//     file, or found it infected) is FILE_NOT_READY or FILE_INFECTED with
//     extensions.status, *files.VariantNotReadyError is VARIANT_NOT_READY
//     with extensions.variant and extensions.pending, files.ErrNotFound is NOT_FOUND, files.ErrUnavailable
//     (storage or database unreachable; the service marks it) is
//     UNAVAILABLE, auth.ErrUnauthenticated is UNAUTHENTICATED, and gqlgen's
//     parse and validation failures keep gqlgen's codes
//     (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, ...). A request
//     whose client has gone is CLIENT_CLOSED_REQUEST, logged at debug: it
//     is nobody's failure. Anything else is a bug or a misconfiguration
//     (such as a store refusing the server's credentials): it is logged at
//     ERROR with the request id and reaches the client masked, as
//     INTERNAL_SERVER_ERROR with extensions.requestId.
//   - httpTransport (transport.go) picks the HTTP status, as the GraphQL
//     over HTTP spec has it: 400 for a request that is not a well-formed
//     GraphQL-over-HTTP request, 415 and 413 for bodies refused before
//     reading, 405 for a mutation over GET, and for a document that does
//     not parse or validate 200 under application/json or 400 under
//     application/graphql-response+json. Once an operation runs the status
//     is 200: its errors are in the body, by code.
//
// So a new error kind needs a case in presentError (and a row in the
// README's table of codes), never a status of its own.
package graph
