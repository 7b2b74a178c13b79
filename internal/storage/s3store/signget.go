package s3store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/filegraph/filegraph/internal/storage"
)

// getSigner presigns GetObject requests, the downloads' hot path, by
// writing SigV4's canonical request itself: a GET signs no header but
// Host, so the canonical request is the URL's path and query between
// constants. PresignHTTP does the same work through a cloned http.Request,
// url.Values parsed and re-encoded, maps of headers and a sort: some 60
// allocations and a tenth of a download's CPU under load, where this
// makes 4. TestPresignMatchesSDK holds its URLs to the SDK presigner's,
// byte for byte; PUTs and parts, which sign headers (and hoist some into
// the query), stay on the SDK's signer.
type getSigner struct {
	creds     aws.CredentialsProvider
	region    string
	service   string
	prefix    string // scheme://host, as url.URL writes them
	host      string // as signed: without the scheme's default port (the SDK's SanitizeHostForHeader)
	scheme    string
	urlHost   string // as in the URL, with any port
	path      string // the bucket's path prefix: "/bucket" (path style) or ""
	rawPath   string // the same, escaped
	credTail  string // X-Amz-Credential after the day: /region/service/aws4_request, escaped
	scopeTail string // the string to sign's scope after the day
	now       func() time.Time

	key atomic.Pointer[signingKey] // the day's, derived once
}

// signingKey is SigV4's key for one day and access key, with a pool of
// HMACs keyed by it (hmac.New makes four allocations).
type signingKey struct {
	day, akid, secret string
	macs              sync.Pool
}

func newGetSigner(p *presigner) *getSigner {
	scope := "/" + p.region + "/" + p.service + "/aws4_request"
	return &getSigner{creds: p.creds, region: p.region, service: p.service,
		prefix: (&url.URL{Scheme: p.scheme, Host: p.host}).String(), host: signedHost(p.scheme, p.host),
		scheme: p.scheme, urlHost: p.host, path: p.path, rawPath: p.rawPath, now: p.now,
		credTail: string(appendQueryEscaped(nil, scope)), scopeTail: scope + "\n"}
}

// signedHost is host as the SDK signs it: without a port that its scheme
// implies.
func signedHost(scheme, host string) string {
	colon := strings.IndexByte(host, ':')
	if colon < 0 {
		return host
	}
	port := host[colon+1:]
	if i := strings.Index(host, "]:"); i >= 0 {
		port = host[i+2:]
	} else if strings.Contains(host, "]") {
		return host
	}
	if s := strings.ToLower(scheme); !(s == "http" && port == "80" || s == "https" && port == "443") {
		return host
	}
	if i := strings.IndexByte(host, ']'); i >= 0 {
		return strings.TrimPrefix(host[:i], "[")
	}
	return host[:colon]
}

// mac returns an HMAC-SHA256 keyed by the signing key of day for creds,
// and the key whose pool it goes back to.
func (g *getSigner) mac(creds aws.Credentials, day []byte) (hash.Hash, *signingKey) {
	k := g.key.Load()
	if k == nil || k.day != string(day) || k.akid != creds.AccessKeyID || k.secret != creds.SecretAccessKey {
		key := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), string(day))
		for _, s := range []string{g.region, g.service, "aws4_request"} {
			key = hmacSHA256(key, s)
		}
		k = &signingKey{day: string(day), akid: creds.AccessKeyID, secret: creds.SecretAccessKey}
		k.macs.New = func() any { return hmac.New(sha256.New, key) }
		g.key.Store(k)
	}
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	return m, k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// presignGet signs a GetObject whose response downloads as opts.FileName
// with opts.ContentType.
func (g *getSigner) presignGet(ctx context.Context, key string, opts storage.GetOptions) (storage.Request, error) {
	creds, err := g.creds.Retrieve(ctx)
	if err != nil {
		return storage.Request{}, fmt.Errorf("s3store: credentials: %w", err)
	}
	now := g.now().UTC()
	path := g.path + "/" + key
	if g.rawPath != g.path || !plainPath(key) {
		u := url.URL{Path: path, RawPath: g.rawPath + "/" + httpbinding.EscapePath(key, false)}
		path = u.EscapedPath()
	}
	disposition := storage.ContentDisposition(opts.FileName)

	// One buffer holds the canonical request (the query in SigV4's order,
	// by byte: X-Amz-* first; every value escaped as the SDK escapes it),
	// then the string to sign, then the signature.
	b := make([]byte, 0, 600+len(path)+len(creds.AccessKeyID)+3*(len(creds.SessionToken)+len(disposition)+len(opts.ContentType)))
	b = append(b, "GET\n"...)
	b = append(b, path...)
	b = append(b, '\n')
	query := len(b)
	b = append(b, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="...)
	b = appendQueryEscaped(b, creds.AccessKeyID)
	b = append(b, "%2F"...)
	day := len(b)
	b = now.AppendFormat(b, "20060102")
	b = append(b, g.credTail...)
	b = append(b, "&X-Amz-Date="...)
	date := len(b)
	b = now.AppendFormat(b, "20060102T150405Z")
	dateEnd := len(b)
	b = append(b, "&X-Amz-Expires="...)
	b = strconv.AppendInt(b, int64(opts.TTL/time.Second), 10)
	if creds.SessionToken != "" {
		b = append(b, "&X-Amz-Security-Token="...)
		b = appendQueryEscaped(b, creds.SessionToken)
	}
	b = append(b, "&X-Amz-SignedHeaders=host&response-content-disposition="...)
	b = appendQueryEscaped(b, disposition)
	b = append(b, "&response-content-type="...)
	b = appendQueryEscaped(b, opts.ContentType)
	b = append(b, "&x-id=GetObject"...)
	queryEnd := len(b)
	b = append(b, "\nhost:"...)
	b = append(b, g.host...)
	b = append(b, "\n\nhost\nUNSIGNED-PAYLOAD"...)
	sum := sha256.Sum256(b)

	toSign := len(b)
	b = append(b, "AWS4-HMAC-SHA256\n"...)
	b = append(b, b[date:dateEnd]...)
	b = append(b, '\n')
	b = append(b, b[day:day+8]...)
	b = append(b, g.scopeTail...)
	b = hex.AppendEncode(b, sum[:])
	m, k := g.mac(creds, b[day:day+8])
	m.Write(b[toSign:])
	sig := len(b)
	b = m.Sum(b)
	k.macs.Put(m)
	sigHex := len(b)
	b = hex.AppendEncode(b, b[sig:sigHex])

	var u strings.Builder
	u.Grow(len(g.prefix) + len(path) + 1 + queryEnd - query + len("&X-Amz-Signature=") + len(b) - sigHex)
	u.WriteString(g.prefix)
	u.WriteString(path)
	u.WriteByte('?')
	u.Write(b[query:queryEnd])
	u.WriteString("&X-Amz-Signature=")
	u.Write(b[sigHex:])
	return storage.Request{Method: http.MethodGet, URL: u.String(), Header: []storage.Header{}, ExpiresAt: now.Truncate(time.Second).Add(opts.TTL)}, nil
}

// appendQueryEscaped appends s escaped as the SDK escapes query values
// (url.QueryEscape, with %20 for a space): all but RFC 3986's unreserved
// characters as %XX.
func appendQueryEscaped(b []byte, s string) []byte {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}
