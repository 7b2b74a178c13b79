package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// objectCalls sends HeadObject (Stat) and DeleteObject (Delete), a save's
// and a delete's storage calls, without the SDK's operation stack: some
// 40 middlewares (endpoint rules, ARN checks, checksum and retry
// bookkeeping, user agent, its own signer's maps and sorts) and a response
// deserializer, around 540 allocations and a quarter of a saveFiles'
// CPU, for a request that is a method, a path and four headers. The
// request is signed with a SigV4 Authorization header written by
// getSigner's machinery (the day's key, its pool of HMACs), byte for byte
// what the SDK's signer writes (TestSignedCallsMatchSDK), and sent through
// the SDK client's own HTTP client: the same transport and pool of idle
// connections, timeout and redirect rule. Failures go through the SDK
// client's own retryer (its attempts, backoff, retry quota and
// retryable-error rules: an answer carries its status and code as the
// SDK's errors do), and are classified by classify as the SDK's are.
// Everything else (Put, Open, Copy, List, multipart, CORS) stays on the
// SDK.
type objectCalls struct {
	g       *getSigner
	scope   string // the credential scope after the day: /region/service/aws4_request
	client  aws.HTTPClient
	retryer aws.RetryerV2
}

// emptySHA256 is the payload hash of a request without a body, which the
// SDK sends for HEAD and DELETE.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Header values every call sends alike; http.Client copies headers before
// it changes any (redirects), so they can be shared.
var (
	emptySHA256Value     = []string{emptySHA256}
	checksumEnabledValue = []string{"ENABLED"}
)

func newObjectCalls(g *getSigner, client aws.HTTPClient, retryer aws.Retryer) *objectCalls {
	r, ok := retryer.(aws.RetryerV2)
	if !ok {
		r = retryV2{retryer}
	}
	return &objectCalls{g: g, scope: strings.TrimSuffix(g.scopeTail, "\n"), client: client, retryer: r}
}

// retryV2 is a Retryer as the SDK's middleware uses one that lacks
// GetAttemptToken.
type retryV2 struct{ aws.Retryer }

func (r retryV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}

// do sends method on key, retried as the SDK's retry middleware retries,
// and returns a 2xx response, whose body the caller closes. A store's
// refusal is an *answer; no answer is the transport's error.
func (c *objectCalls) do(ctx context.Context, method, key string, checksumMode bool) (*http.Response, error) {
	maxAttempts := c.retryer.MaxAttempts()
	releaseRetry := nopRelease
	for attempt := 1; ; attempt++ {
		// An attempt that cannot succeed takes no token.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		releaseAttempt := nopRelease
		if attempt == 1 {
			// The first attempt's token refunds the quota when it
			// succeeds; a successful retry refunds its retry token.
			r, err := c.retryer.GetAttemptToken(ctx)
			if err != nil {
				return nil, fmt.Errorf("failed to get retry Send token, %w", err)
			}
			releaseAttempt = r
		}
		res, err := c.attempt(ctx, method, key, checksumMode)
		if rerr := releaseRetry(err); rerr != nil && err != nil {
			return nil, fmt.Errorf("failed to release retry token after request error, %w", err)
		}
		if rerr := releaseAttempt(err); rerr != nil && err != nil {
			return nil, fmt.Errorf("failed to release initial token after request error, %w", err)
		}
		if err == nil {
			return res, nil
		}
		if !c.retryer.IsErrorRetryable(err) {
			return nil, err
		}
		if maxAttempts > 0 && attempt >= maxAttempts {
			return nil, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
		}
		release, tokenErr := c.retryer.GetRetryToken(ctx, err)
		if tokenErr != nil {
			return nil, errors.Join(err, tokenErr)
		}
		delay, delayErr := c.retryer.RetryDelay(attempt, err)
		if delayErr != nil {
			return nil, delayErr
		}
		if a, ok := errors.AsType[*answer](err); ok {
			delay = retryAfter(delay, a.retryAfter)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &aws.RequestCanceledError{Err: ctx.Err()}
		case <-t.C:
		}
		releaseRetry = release
	}
}

func nopRelease(error) error { return nil }

// retryAfter is the SDK's use of S3's x-amz-retry-after (milliseconds):
// the backoff, or the store's wish if longer, by at most 5 s more.
func retryAfter(backoff time.Duration, header string) time.Duration {
	if header == "" {
		return backoff
	}
	ms, err := strconv.ParseInt(header, 10, 64)
	if err != nil || ms < 0 {
		return backoff
	}
	return min(max(time.Duration(ms)*time.Millisecond, backoff), backoff+5*time.Second)
}

// attempt signs and sends one request.
func (c *objectCalls) attempt(ctx context.Context, method, key string, checksumMode bool) (*http.Response, error) {
	creds, err := c.g.creds.Retrieve(ctx)
	if err != nil {
		// As the SDK's signing middleware says it: classify calls a
		// missing credential a misconfiguration, unless the network
		// failed fetching it.
		return nil, &v4.SigningError{Err: fmt.Errorf("failed to retrieve credentials: %w", err)}
	}
	req := c.request(ctx, creds, c.g.now().UTC(), method, key, checksumMode)
	res, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &smithy.CanceledError{Err: ctx.Err()}
		}
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	if res.StatusCode/100 == 2 {
		return res, nil
	}
	return nil, readAnswer(res)
}

// request builds the signed request of method on key at now.
func (c *objectCalls) request(ctx context.Context, creds aws.Credentials, now time.Time, method, key string, checksumMode bool) *http.Request {
	u := &url.URL{Scheme: c.g.scheme, Host: c.g.urlHost, Path: c.g.path + "/" + key}
	path := u.Path
	if c.g.rawPath != c.g.path || !plainPath(key) {
		u.RawPath = c.g.rawPath + "/" + httpbinding.EscapePath(key, false)
		path = u.EscapedPath()
	}
	h := make(http.Header, 5)
	values := make([]string, 2)
	values[0], values[1] = c.authorization(creds, now, method, path, checksumMode)
	h["Authorization"] = values[0:1:1]
	h["X-Amz-Date"] = values[1:2:2]
	h["X-Amz-Content-Sha256"] = emptySHA256Value
	if checksumMode {
		h["X-Amz-Checksum-Mode"] = checksumEnabledValue
	}
	if creds.SessionToken != "" {
		h["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	req := (&http.Request{Method: method, URL: u, Host: c.g.host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	return req
}

// readAnswer reads a refusal as the SDK does: the code and message of the
// XML error body, or, without them (a HEAD has no body), the status's text.
func readAnswer(res *http.Response) error {
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	a := &answer{status: res.StatusCode, retryAfter: res.Header.Get("X-Amz-Retry-After")}
	if err != nil {
		// The store answered and the answer broke off: no code to go by.
		a.err = err
		return a
	}
	var e struct{ Code, Message string }
	if len(body) > 0 {
		if err := xml.Unmarshal(body, &e); err != nil {
			a.err = fmt.Errorf("error while deserializing xml error response: %w", err)
		}
	}
	a.code, a.message = e.Code, e.Message
	if a.code == "" && a.message == "" {
		a.message = http.StatusText(res.StatusCode)
		a.code = strings.ReplaceAll(a.message, " ", "")
	}
	return a
}

// drain reads what is left of a response so that its connection goes back
// to the pool, and closes it.
func drain(res *http.Response) {
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
}

// authorization returns the SigV4 Authorization header of a request
// without a body on path (escaped as sent) at now, signing Host,
// X-Amz-Checksum-Mode (when asked), X-Amz-Content-Sha256, X-Amz-Date and
// X-Amz-Security-Token (with a session's credentials), and X-Amz-Date.
func (c *objectCalls) authorization(creds aws.Credentials, now time.Time, method, path string, checksumMode bool) (auth, date string) {
	g := c.g
	// One buffer: the canonical request, the string to sign, the
	// signature, then the header itself.
	b := make([]byte, 0, 512+2*len(path)+len(creds.AccessKeyID)+len(creds.SessionToken))
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, "\n\nhost:"...)
	b = append(b, g.host...)
	if checksumMode {
		b = append(b, "\nx-amz-checksum-mode:ENABLED"...)
	}
	b = append(b, "\nx-amz-content-sha256:"+emptySHA256+"\nx-amz-date:"...)
	dateAt := len(b)
	b = now.AppendFormat(b, "20060102T150405Z")
	dateEnd := len(b)
	if creds.SessionToken != "" {
		b = append(b, "\nx-amz-security-token:"...)
		b = append(b, creds.SessionToken...)
	}
	b = append(b, "\n\n"...)
	signed := len(b)
	b = append(b, "host;"...)
	if checksumMode {
		b = append(b, "x-amz-checksum-mode;"...)
	}
	b = append(b, "x-amz-content-sha256;x-amz-date"...)
	if creds.SessionToken != "" {
		b = append(b, ";x-amz-security-token"...)
	}
	signedEnd := len(b)
	b = append(b, "\n"+emptySHA256...)
	sum := sha256.Sum256(b)

	toSign := len(b)
	b = append(b, "AWS4-HMAC-SHA256\n"...)
	b = append(b, b[dateAt:dateEnd]...)
	b = append(b, '\n')
	b = append(b, b[dateAt:dateAt+8]...)
	b = append(b, g.scopeTail...)
	b = hex.AppendEncode(b, sum[:])
	m, k := g.mac(creds, b[dateAt:dateAt+8])
	m.Write(b[toSign:])
	sig := len(b)
	b = m.Sum(b)
	k.macs.Put(m)
	sigEnd := len(b)

	var s strings.Builder
	s.Grow(len("AWS4-HMAC-SHA256 Credential=") + len(creds.AccessKeyID) + 9 + len(c.scope) +
		len(", SignedHeaders=") + signedEnd - signed + len(", Signature=") + 64 + dateEnd - dateAt)
	s.WriteString("AWS4-HMAC-SHA256 Credential=")
	s.WriteString(creds.AccessKeyID)
	s.WriteByte('/')
	s.Write(b[dateAt : dateAt+8])
	s.WriteString(c.scope)
	s.WriteString(", SignedHeaders=")
	s.Write(b[signed:signedEnd])
	s.WriteString(", Signature=")
	var hexSig [64]byte
	hex.Encode(hexSig[:], b[sig:sigEnd])
	s.Write(hexSig[:])
	s.Write(b[dateAt:dateEnd])
	all := s.String()
	n := len(all) - (dateEnd - dateAt)
	return all[:n], all[n:]
}
