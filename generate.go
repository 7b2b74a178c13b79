package main

// The ent generator writes graph/ent.graphqls, which gqlgen then reads, so
// the order matters.
//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate
