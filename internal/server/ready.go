package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filegraph/filegraph/internal/httplog"
	"github.com/filegraph/filegraph/internal/storage"
)

const (
	// readyTimeout bounds each dependency's check on its own, so one slow
	// answer cannot use up the other's time.
	readyTimeout = 2 * time.Second
	// readyFresh is how long a check's answer serves later polls. Many
	// pollers (each replica's load balancer, probes, dashboards) would
	// otherwise each cost a database ping and, on S3, a billed HEAD; a
	// failure is still seen within a second of the check after it.
	readyFresh = time.Second
)

// readiness answers /readyz: whether this replica should get traffic. It
// says no when the database or storage does not answer (not when they are
// merely busy: the database check has a connection of its own) and, from
// the moment shutdown begins, to have load balancers stop sending.
type readiness struct {
	draining atomic.Bool

	mu   sync.Mutex
	cur  *round // the checks running now, if any
	last *round // the latest finished, served while fresh
}

// round is one run of the checks. Polls that arrive while it runs share
// its answer: a crowd of pollers costs one check, not one each; so do
// those that arrive within readyFresh of its end.
type round struct {
	done   chan struct{}
	status int
	body   map[string]string
	ended  time.Time
}

// check is one dependency's look.
type check struct {
	name string
	ping func(context.Context) error
}

func (rd *readiness) serve(w http.ResponseWriter, r *http.Request, checks []check) {
	if rd.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining", "reason": "shutting down"})
		return
	}
	rd.mu.Lock()
	if last := rd.last; last != nil && time.Since(last.ended) < readyFresh {
		rd.mu.Unlock()
		writeJSON(w, last.status, last.body)
		return
	}
	cur := rd.cur
	if cur == nil {
		cur = &round{done: make(chan struct{})}
		rd.cur = cur
		go func() {
			cur.status, cur.body = runChecks(context.WithoutCancel(r.Context()), checks)
			rd.mu.Lock()
			cur.ended = time.Now()
			rd.cur, rd.last = nil, cur
			rd.mu.Unlock()
			close(cur.done)
		}()
	}
	rd.mu.Unlock()
	select {
	case <-cur.done:
		writeJSON(w, cur.status, cur.body)
	case <-r.Context().Done():
	}
}

// runChecks runs the checks side by side, each with its own timeout.
func runChecks(ctx context.Context, checks []check) (int, map[string]string) {
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			errs[i] = c.ping(ctx)
			if errs[i] == nil && ctx.Err() != nil {
				errs[i] = ctx.Err()
			}
		})
	}
	wg.Wait()
	status, body := http.StatusOK, map[string]string{"status": "ok"}
	var reasons []string
	for i, c := range checks {
		if errs[i] == nil {
			body[c.name] = "ok"
			continue
		}
		status, body["status"], body[c.name] = http.StatusServiceUnavailable, "unavailable", "unavailable"
		reasons = append(reasons, c.name+": "+reason(errs[i]))
		httplog.FromContext(ctx).WarnContext(ctx, "readyz."+c.name, "err", errs[i])
	}
	if len(reasons) > 0 {
		body["reason"] = strings.Join(reasons, "; ")
	}
	return status, body
}

// reason says why a check failed in words fit for an operator's
// dashboard: no addresses, paths or driver messages (the log has those).
func reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within " + readyTimeout.String()
	case errors.Is(err, storage.ErrInsufficientStorage):
		return "free space below DISK_MIN_FREE"
	}
	return "not answering (see the log)"
}

// closeWhileDraining asks each client to close its connection once the
// response is written while the server drains, so keep-alive clients
// reconnect (to another replica) instead of meeting a connection closed
// under them when the server stops.
func (rd *readiness) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rd.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
