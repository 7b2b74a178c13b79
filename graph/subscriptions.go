package graph

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/filegraph/filegraph/internal/auth"
	"github.com/filegraph/filegraph/internal/events"
	"github.com/filegraph/filegraph/internal/files"
)

// Codes that end a subscription.
const (
	// CodeSubscriberTooSlow: the subscriber fell behind and was dropped.
	CodeSubscriberTooSlow = "SUBSCRIBER_TOO_SLOW"
	// CodeGoingAway: the server is shutting down; subscribe again.
	CodeGoingAway = "GOING_AWAY"
)

// CloseForbidden is the WebSocket close code of a connection_init whose
// Authorization is refused (graphql-ws reads 4403 as forbidden).
const CloseForbidden = 4403

// closeGoingAway is RFC 6455's close code for a server going down.
const closeGoingAway = 1001

// Subscriptions serves Subscription over WebSocket (graphql-transport-ws,
// what the graphql-ws client speaks) and Server-Sent Events (graphql-sse's
// distinct connections mode), both gqlgen's own transports.
type Subscriptions struct {
	Hub *events.Hub
	// Origins may subscribe from a browser page ("*": any), as
	// CORS_ALLOWED_ORIGINS; the server's own origin always may.
	Origins []string
	// Authenticate reads the Authorization value of a WebSocket's
	// connection_init, as the auth middleware reads the header.
	Authenticate func(ctx context.Context, authorization string) (context.Context, error)
	// KeepAlive is how often an idle connection is pinged.
	KeepAlive time.Duration
	// WriteTimeout is how long a subscriber may take to accept one
	// message before its connection is closed.
	WriteTimeout time.Duration

	mu    sync.Mutex
	conns map[*guardedConn]struct{}
	gone  chan struct{} // closed by the last conn to close, while GoAway waits
}

// transports returns the two transports, to be added before the HTTP one.
func (s *Subscriptions) transports() []graphql.Transport {
	return []graphql.Transport{
		sseTransport{transport.SSE{KeepAlivePingInterval: s.KeepAlive}},
		transport.Websocket{
			Implementation:   guardedImplementation{s},
			InitFunc:         s.init,
			InitTimeout:      10 * time.Second,
			PingPongInterval: s.KeepAlive,
		},
	}
}

// sseTransport is gqlgen's SSE for the clients that ask for an event
// stream first (graphql-sse sends Accept: text/event-stream). gqlgen takes
// any Accept that mentions it, and urql lists it last after JSON on every
// query and mutation: those were answered as a stream, which urql ends
// (aborting the fetch, an unhandled AbortError in the page) after the first
// result.
type sseTransport struct{ transport.SSE }

func (t sseTransport) Supports(r *http.Request) bool {
	first, _, _ := strings.Cut(r.Header.Get("Accept"), ",")
	mt, _, err := mime.ParseMediaType(strings.TrimSpace(first))
	return err == nil && mt == "text/event-stream" && t.SSE.Supports(r)
}

// init authenticates a WebSocket by its connection_init payload's
// Authorization, when it has one; without, the upgrade request's header
// counts (non-browser clients).
func (s *Subscriptions) init(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if v := p.Authorization(); v != "" {
		authed, err := s.Authenticate(ctx, v)
		if err != nil {
			return transport.WithWebsocketCloseCode(ctx, CloseForbidden), nil, err
		}
		return authed, nil, nil
	}
	if _, err := auth.FromContext(ctx); err != nil {
		return transport.WithWebsocketCloseCode(ctx, CloseForbidden), nil, err
	}
	return ctx, nil, nil
}

// streaming reports whether r asks for a subscription's transport.
func streaming(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// IsStreaming reports whether r opens a WebSocket or an event stream,
// which lives longer than a request's deadline.
func IsStreaming(r *http.Request) bool { return streaming(r) }

// guard refuses subscriptions from pages of other origins (a browser lets
// any page open a WebSocket), and gives an event stream's writes a
// deadline of their own.
func (s *Subscriptions) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !streaming(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !s.originAllowed(r) {
			http.Error(w, "this origin may not subscribe (CORS_ALLOWED_ORIGINS)", http.StatusForbidden)
			return
		}
		if r.Header.Get("Upgrade") == "" {
			sw := &sseWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.WriteTimeout}
			w, r = sw, r.WithContext(context.WithValue(r.Context(), sseKey{}, sw))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Subscriptions) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || slices.Contains(s.Origins, "*") || slices.Contains(s.Origins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// GoAway closes every WebSocket with 1001 (going away), so that clients
// reconnect to another replica; the hub's end closes event streams. It
// returns once each connection has closed, or after wait: the close frame
// goes out in the background (gqlgen's WriteClose), and a process that
// exited first would leave its clients an abnormal 1006 instead.
func (s *Subscriptions) GoAway(wait time.Duration) {
	s.mu.Lock()
	conns := make([]*guardedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	gone := make(chan struct{})
	if len(conns) == 0 {
		close(gone)
	} else {
		s.gone = gone
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.WriteClose(closeGoingAway, "going away")
	}
	select {
	case <-gone:
	case <-time.After(wait):
	}
}

// guardedImplementation accepts WebSockets as gqlgen's default does, and
// keeps them so that GoAway can close them.
type guardedImplementation struct{ s *Subscriptions }

func (g guardedImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	impl := transport.CoderWebsocketImplementation{}
	impl.AcceptOptions.InsecureSkipVerify = true // guard checked the origin
	conn, err := impl.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	c := &guardedConn{WebsocketConn: conn, s: g.s}
	g.s.mu.Lock()
	if g.s.conns == nil {
		g.s.conns = map[*guardedConn]struct{}{}
	}
	g.s.conns[c] = struct{}{}
	g.s.mu.Unlock()
	return c, nil
}

// guardedConn closes a connection whose peer does not take a message
// within WriteTimeout: the transport's own writes would wait for ever, and
// a subscriber that does not read must not hold the server's memory.
type guardedConn struct {
	transport.WebsocketConn
	s *Subscriptions
}

func (c *guardedConn) WriteJSON(v any) error {
	if c.s.WriteTimeout > 0 {
		t := time.AfterFunc(c.s.WriteTimeout, func() { c.WebsocketConn.Close() })
		defer t.Stop()
	}
	return c.WebsocketConn.WriteJSON(v)
}

func (c *guardedConn) Close() error {
	c.forget()
	return c.WebsocketConn.Close()
}

// forget drops a closed connection: the transport calls Close last,
// after the close handshake (WriteClose) has begun.
func (c *guardedConn) forget() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.conns, c)
	if len(c.s.conns) == 0 && c.s.gone != nil {
		close(c.s.gone)
		c.s.gone = nil
	}
}

// The transport looks for these abilities on the connection.
func (c *guardedConn) SetReadLimit(n int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// sseWriter gives each write of an event stream its own deadline (the
// server's WriteTimeout would end the stream; no deadline would let a
// subscriber that does not read hold it for ever), and is a Flusher, as
// gqlgen's SSE transport needs, whatever middleware wraps the writer.
type sseWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	mu      sync.Mutex // the transport's keep-alive writes beside its events
}

// sseKey finds a stream's sseWriter in its context.
type sseKey struct{}

func (w *sseWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timeout > 0 {
		w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return w.ResponseWriter.Write(b)
}

func (w *sseWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rc.Flush()
}

// endWith tells the subscriber why its subscription ends, as the last
// result before the channel closes. gqlgen's AddSubscriptionError does so
// on a WebSocket only; on an event stream it is one more next event,
// written while the transport waits on the channel (in one Write, so a
// keep-alive ping cannot split it).
func endWith(ctx context.Context, err *gqlerror.Error) {
	sw, ok := ctx.Value(sseKey{}).(*sseWriter)
	if !ok {
		transport.AddSubscriptionError(ctx, err)
		return
	}
	b, _ := json.Marshal(graphql.Response{Errors: gqlerror.List{err}})
	sw.Write(append(append([]byte("event: next\ndata: "), b...), "\n\n"...))
	sw.Flush()
}

func (w *sseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// subscribe starts the caller's subscription to file events and returns
// its channel, which closes when the subscription ends, the reason added
// to the subscription's errors.
func (s *Subscriptions) subscribe(ctx context.Context, svc *files.Service, collection *string) (<-chan *events.Event, error) {
	if s == nil || s.Hub == nil {
		return nil, errors.New("graph: subscriptions are not served")
	}
	owner, all, err := svc.EventScope(ctx)
	if err != nil {
		return nil, err
	}
	f := events.Filter{Owner: owner, All: all}
	if collection != nil {
		f.Collection = *collection
	}
	sub, err := s.Hub.Subscribe(ctx, f)
	if tm, ok := errors.AsType[*events.ErrTooMany](err); ok {
		return nil, &files.LimitError{Limit: tm.Limit, Message: tm.Error()}
	}
	if errors.Is(err, events.ErrClosed) || errors.Is(err, events.ErrUnavailable) {
		return nil, files.ErrUnavailable
	}
	if err != nil {
		return nil, err
	}
	out := make(chan *events.Event)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-sub.C:
				if !ok {
					switch err := sub.Err(); {
					case errors.Is(err, events.ErrDropped):
						endWith(ctx, &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": CodeSubscriberTooSlow}})
					case errors.Is(err, events.ErrClosed):
						endWith(ctx, &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": CodeGoingAway}})
					}
					return
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// eventTypes maps the outbox's types onto the API's.
var eventTypes = map[string]FileEventType{
	files.EventSaved:         FileEventTypeSaved,
	files.EventUpdated:       FileEventTypeUpdated,
	files.EventDeleted:       FileEventTypeDeleted,
	files.EventScanned:       FileEventTypeScanned,
	files.EventVariantsReady: FileEventTypeVariantsReady,
}
