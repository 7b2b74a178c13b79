package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// RefusedError is a connection not made: the address is one that webhooks
// may not reach without WEBHOOK_ALLOW_PRIVATE.
type RefusedError struct {
	Addr netip.Addr
	Kind string // loopback, private, link-local, ...
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s, a %s address (WEBHOOK_ALLOW_PRIVATE=true allows it)", e.Addr, e.Kind)
}

// special are ranges that are neither loopback, private nor link-local to
// the net package's eyes but reach no public receiver either.
var special = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// nat64 carries an IPv4 address in its last 32 bits: it is judged by that.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// kind says why a webhook may not reach a, or "" when it may.
func kind(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.kind
		}
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	return ""
}

// CheckURLs refuses, as a misconfiguration of WEBHOOK_URL, a URL whose host
// is or resolves to an address webhooks may not reach. A name that does not
// resolve now is let through with a warning: DNS may be down for a moment,
// and every connection is checked again anyway.
func CheckURLs(ctx context.Context, urls []string, allowPrivate bool, log *slog.Logger) error {
	if allowPrivate {
		return nil
	}
	var errs []error
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not a URL", raw))
			continue
		}
		host := u.Hostname()
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			addrs, err = net.DefaultResolver.LookupNetIP(lctx, "ip", host)
			cancel()
			if err != nil {
				log.Warn("webhooks.resolve_failed", "receiver", Receiver(raw), "err", err,
					"why", "its addresses are checked at each connection instead")
				continue
			}
		}
		for _, a := range addrs {
			if k := kind(a); k != "" {
				errs = append(errs, fmt.Errorf("%s is %s, a %s address: receivers must be public, or set WEBHOOK_ALLOW_PRIVATE=true", Receiver(raw), a, k))
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: WEBHOOK_URL: %w", errors.Join(errs...))
	}
	return nil
}

// newClient is the HTTP client of the tries: it follows no redirect, uses
// no proxy (which would hide the address dialled), and unless
// allowPrivate checks every address it connects to, after DNS.
func newClient(allowPrivate bool, conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhooks: dialling %q: %w", address, err)
			}
			if k := kind(ap.Addr()); k != "" {
				return &RefusedError{Addr: ap.Addr().Unmap(), Kind: k}
			}
			return nil
		}
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConnsPerHost:    conns,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
