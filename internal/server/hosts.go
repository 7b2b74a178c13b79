package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// localHostsOnly answers, in development mode, only requests addressed to a
// loopback host or to PUBLIC_URL's host. Every request there acts as the
// local user, so a page whose name its owner points at 127.0.0.1 (DNS
// rebinding) could otherwise read, write and delete the user's files from
// the browser.
func localHostsOnly(publicURL string, next http.Handler) http.Handler {
	public := ""
	if u, err := url.Parse(publicURL); err == nil {
		public = strings.ToLower(u.Hostname())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		ip := net.ParseIP(host)
		if host != "localhost" && host != public && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "development mode answers only requests to localhost, a loopback address or PUBLIC_URL's host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
