package diskstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/filegraph/filegraph/internal/httplog"
)

// What a PUT in flight holds, and for how long, is decided here: which
// PUTs are let in (admit), how long their bodies may pause (idleBody), and
// that nothing but the connection is taken before the first bytes arrive
// (awaitBody). Without bounds, 1,000 PUTs that sent their headers and no
// body held 4.25 GB of buffers, 2,035 descriptors and 3,016 goroutines
// until their uploads' deadlines (a part's: a day).

// Limits bound the PUTs (whole objects and parts) in flight; a zero field
// is no bound.
type Limits struct {
	// MaxPuts is how many PUTs may stream at once; more are refused with
	// 503 and Retry-After before their bodies are read.
	MaxPuts int
	// MaxPutsPerUser is how many of them one user's uploads may be (the
	// owner the gate names), so one user cannot take them all.
	MaxPutsPerUser int
	// IdleTimeout cuts a PUT (408) whose body sends nothing for this long,
	// whatever its upload's deadline.
	IdleTimeout time.Duration
}

// WithLimits bounds the PUTs in flight.
func WithLimits(l Limits) Option { return func(s *Store) { s.limits = l } }

// retryAfter is what a PUT refused for want of room is told to wait, in
// seconds: PUTs in flight end, or are cut, within moments.
const retryAfter = "2"

// refusal is the answer to a PUT turned away before its body is read.
type refusal struct {
	status int
	msg    string
}

var errBusy = &refusal{http.StatusServiceUnavailable, "too many uploads in progress; retry later"}

// refuse answers a PUT turned away. The body will not be read: closing the
// connection after the answer keeps the server from draining a slow body
// it refused, which would hold the connection as long as the client likes.
func refuse(w http.ResponseWriter, r *refusal) {
	dropBody(w)
	if r.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, r.msg, r.status)
}

// admit decides, before a byte of a PUT's body is read, whether it may
// stream to key: there is room (Limits), the key holds no object, its
// upload is still pending (the gate), and no other PUT is streaming to it
// (as S3 answers concurrent conditional writes, 409). So replays of one URL
// cost nothing but their headers. It returns until when the body may take,
// and release for the caller to defer. Part PUTs are admitted the same way,
// with their upload's key; slot names what may have only one PUT streaming
// (the key, or one part of an upload).
func (s *Store) admit(ctx context.Context, key, slot string, exp int64) (deadline time.Time, release func(), _ *refusal) {
	if s.full("") { // before asking the gate: a flood costs no queries
		return deadline, nil, errBusy
	}
	if _, err := os.Lstat(s.objectPath(key)); err == nil {
		return deadline, nil, &refusal{http.StatusPreconditionFailed, "an object already exists at this key"}
	}
	deadline = time.Unix(exp, 0).Add(putGrace)
	var owner string
	if s.gate != nil {
		p, err := s.gate(ctx, key)
		if err != nil {
			httplog.FromContext(ctx).WarnContext(ctx, "diskstore.gate_failed", "key", key, "err", err)
			return deadline, nil, &refusal{http.StatusServiceUnavailable, "could not check the upload; retry"}
		}
		if p.Until.IsZero() {
			return deadline, nil, &refusal{http.StatusForbidden, errNotPending.Error()}
		}
		deadline, owner = p.Until, p.Owner
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[slot] {
		return deadline, nil, &refusal{http.StatusConflict, "another upload to this key is in progress"}
	}
	if s.fullLocked(owner) {
		httplog.FromContext(ctx).DebugContext(ctx, "diskstore.put_refused_busy", "key", key, "user", owner, "in_flight", len(s.inFlight))
		return deadline, nil, errBusy
	}
	s.inFlight[slot] = true
	if owner != "" {
		s.perUser[owner]++
	}
	return deadline, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.inFlight, slot)
		if owner != "" {
			if s.perUser[owner]--; s.perUser[owner] == 0 {
				delete(s.perUser, owner)
			}
		}
	}, nil
}

// full reports whether a PUT of owner's ("" for no one in particular)
// would be one too many.
func (s *Store) full(owner string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fullLocked(owner)
}

func (s *Store) fullLocked(owner string) bool {
	l := s.limits
	return (l.MaxPuts > 0 && len(s.inFlight) >= l.MaxPuts) ||
		(l.MaxPutsPerUser > 0 && owner != "" && s.perUser[owner] >= l.MaxPutsPerUser)
}

var errIdle = errors.New("the body sent nothing for too long")

// body returns r's body as a PUT admitted until deadline reads it: a pause
// longer than the idle timeout, or reading past the deadline, ends it with
// errIdle or errDeadline.
func (s *Store) body(w http.ResponseWriter, r *http.Request, deadline time.Time) io.Reader {
	b := &idleBody{r: r.Body, rc: http.NewResponseController(w), idle: s.limits.IdleTimeout, until: deadline}
	b.push(time.Now())
	return b
}

// idleBody pushes the connection's read deadline on as the body's bytes
// arrive, to the idle timeout from then but never past until. It pushes at
// most every idle/8 (and every second), so a pause is cut after between
// 7/8 of the idle timeout and all of it.
type idleBody struct {
	r      io.Reader
	rc     *http.ResponseController
	idle   time.Duration
	until  time.Time
	pushed time.Time
}

func (b *idleBody) push(now time.Time) {
	d := b.until
	if b.idle > 0 && now.Add(b.idle).Before(d) {
		d = now.Add(b.idle)
	}
	b.rc.SetReadDeadline(d)
	b.pushed = now
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		if now := time.Now(); now.Sub(b.pushed) >= min(b.idle/8, time.Second) {
			b.push(now)
		}
	}
	n, err := b.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if time.Now().Before(b.until) {
			return n, errIdle
		}
		return n, errDeadline
	}
	return n, err
}

// awaitBody waits for the body's first bytes, or its end, and returns a
// reader of all of it; a failed first read is returned as such. A PUT
// takes its temporary file, buffers and goroutines only after this, so
// one that sends nothing holds its connection and no more.
func awaitBody(body io.Reader) (io.Reader, error) {
	head := make([]byte, 512)
	for {
		n, err := body.Read(head)
		switch {
		case n == 0 && err != nil && !errors.Is(err, io.EOF):
			return nil, err
		case err != nil:
			return io.MultiReader(bytes.NewReader(head[:n]), errReader{err}), nil
		case n > 0:
			return io.MultiReader(bytes.NewReader(head[:n]), body), nil
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// bodyError classifies a failed read of a PUT's body: the deadline's, the
// idle timeout's, or the client's.
func bodyError(err error) error {
	if errors.Is(err, errDeadline) || errors.Is(err, errIdle) {
		return err
	}
	return &badBodyError{"reading the body: " + err.Error()}
}

// exhausted reports whether err is the process or the system running out
// of something that frees up again (descriptors, memory for buffers): a
// PUT that meets it is told to retry (503), not that it is wrong or lost.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.ENOBUFS)
}

// dropBody closes the connection after the answer without reading what
// is left of the body. Connection: close alone does not do it: net/http
// still drains up to 256 KiB of an unread body first, so 1,000 refused
// PUTs that never sent their bodies held their connections (and 1,000
// goroutines) until ReadTimeout.
func dropBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
}

// busy answers a PUT that met exhaustion.
func busy(w http.ResponseWriter, r *http.Request, err error, attrs ...any) {
	httplog.FromContext(r.Context()).WarnContext(r.Context(), "diskstore.exhausted", append(attrs, "err", err)...)
	dropBody(w)
	w.Header().Set("Retry-After", retryAfter)
	http.Error(w, "the server is busy; retry later", http.StatusServiceUnavailable)
}
