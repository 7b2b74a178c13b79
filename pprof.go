//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on the default mux
	"os"
)

// A build with -tags pprof (make bench-load -profile) serves the runtime's
// profiles on PPROF_ADDR, for profiling under load. What ships has no such
// listener.
func init() {
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
