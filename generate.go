package main

// The ent generator writes graph/ent.graphqls, which gqlgen then reads, so
// the order matters; schema.graphql (the client schema) and subgraph.graphql
// (the SDL a supergraph composes, as _service answers it) come from what
// gqlgen built.
//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod ./graph/codegen
//go:generate go run ./graph/printschema schema.graphql subgraph.graphql
