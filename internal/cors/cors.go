// Package cors answers browsers' cross-origin checks for the API and the
// disk storage, the way S3 answers them for a bucket with a CORS rule.
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Policy says which origins may call, with what.
type Policy struct {
	Origins []string // "*" allows any origin
	Methods []string
	Headers []string // request headers a preflight may ask for
	Expose  []string // response headers scripts may read
	MaxAge  int      // seconds a preflight may be cached
}

func (p Policy) allowed(origin string) bool {
	return origin != "" && (slices.Contains(p.Origins, "*") || slices.Contains(p.Origins, origin))
}

// Handler adds CORS headers for allowed origins and answers preflights; a
// request from any other origin gets no CORS headers, so the browser keeps
// the response from the script.
func (p Policy) Handler(next http.Handler) http.Handler {
	methods := strings.Join(p.Methods, ", ")
	headers := strings.Join(p.Headers, ", ")
	expose := strings.Join(p.Expose, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !p.allowed(origin) {
			if preflight {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", headers)
			h.Set("Access-Control-Max-Age", strconv.Itoa(p.MaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if expose != "" {
			h.Set("Access-Control-Expose-Headers", expose)
		}
		next.ServeHTTP(w, r)
	})
}
