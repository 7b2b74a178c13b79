// Package webhooks delivers the outbox's events to WEBHOOK_URL, signed
// as Standard Webhooks says, at least once.
//
// Design note. The transaction that changes a file writes its event and
// one delivery row per URL (internal/files, outbox.go): a delivery exists
// if and only if its change committed, and no request waits for a
// receiver. A Sender in every replica then works the deliveries table:
//
//   - Claiming. Each URL has a loop that claims due deliveries in batches
//     no larger than its free slots (database.Deliveries: FOR UPDATE SKIP
//     LOCKED on PostgreSQL, so replicas claim side by side and never the
//     same row; one loop per URL on SQLite, the only process). A claim
//     counts a try and moves next_attempt_at past the try's end (a lease)
//     and commits at once: no transaction is open while a receiver
//     answers, and a replica killed mid-try leaves the row to another once
//     the lease has run out.
//   - Order. A delivery is claimed only when no earlier delivery of its
//     file to the same URL is pending, so a receiver sees each file's
//     events in order (saved before deleted), while different files go
//     out in parallel.
//   - Trying. A POST of {"type","timestamp","data"} with webhook-id (the
//     event's public id, the same on every try), webhook-timestamp and
//     webhook-signature (v1, HMAC-SHA256 of id.timestamp.body). A 2xx
//     within WEBHOOK_TIMEOUT delivers it; anything else (a redirect
//     included: none is followed) schedules the next try with exponential
//     backoff and jitter, until WEBHOOK_RETRY_FOR has passed since the
//     event (or since an operator's retry), when it is marked failed. An
//     answer's body is read up to 64 KiB, then the connection is dropped.
//   - Wakes. A loop claims when this process commits events (the outbox's
//     Committed), when another replica does (NOTIFY, through the same
//     listener as the subscriptions), when one of its tries ends, and
//     every second for retries that come due and leases that run out.
//   - Memory stays flat whatever the backlog: a loop holds at most
//     MaxInFlight deliveries, read by id when claimed.
//   - The network. A receiver must not be a way in: URLs whose addresses
//     are loopback, private, link-local (cloud metadata), shared or
//     multicast are refused at start, and every connection is checked
//     again on the address actually dialled (a name that resolves
//     elsewhere later, or a rebinding DNS), unless WEBHOOK_ALLOW_PRIVATE.
//     No proxy from the environment is used, which would hide the address.
//
// "At least once": a receiver may get an event twice (a replica killed
// after the receiver answered, before the row was marked) and should
// dedupe on webhook-id. Pruning (Prune) removes deliveries delivered more
// than WEBHOOK_KEEP ago and the events nothing refers to any more; failed
// ones stay until an operator retries them (filegraph webhooks).
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/delivery"
)

// Claimer takes due deliveries (database.Deliveries).
type Claimer interface {
	// Claim takes up to n deliveries to url that are due at now, whose
	// file has no earlier delivery to url pending, leases them until until
	// and counts a try for each.
	Claim(ctx context.Context, client *ent.Client, url string, now, until time.Time, n int) ([]int, error)
}

// Observer hears how deliveries go, for metrics; receiver is the URL's
// scheme and host. Its methods must return quickly.
type Observer interface {
	// Tried reports a try's outcome: ok, http_3xx, http_4xx, http_5xx,
	// timeout, refused (an address not allowed) or error.
	Tried(receiver, outcome string, took time.Duration)
	// Delivered reports a delivery done, latency after its event was
	// committed.
	Delivered(receiver string, latency time.Duration)
	// Failed reports a delivery given up.
	Failed(receiver string)
}

// Options configure a Sender.
type Options struct {
	URLs     []string
	Secret   []byte        // the key, decoded from whsec_
	Timeout  time.Duration // for a receiver to answer 2xx
	RetryFor time.Duration // tries go on this long after the event
	// AllowPrivate lets URLs reach loopback, private and link-local
	// addresses (tests, and receivers on the same network on purpose).
	AllowPrivate bool
	// MaxInFlight bounds the tries in flight to each URL (default 32).
	MaxInFlight int
	// Backoff is the delay after the first failed try, doubled after
	// each further one up to MaxBackoff (defaults 1s and 1h); each delay
	// is drawn between half of it and all of it.
	Backoff, MaxBackoff time.Duration
	// Poll is how often a loop claims unwoken (default 1s).
	Poll     time.Duration
	Now      func() time.Time
	Observer Observer
}

// MaxAnswer is how much of a receiver's answer is read.
const MaxAnswer = 64 << 10

// leaseSlack is how long past WEBHOOK_TIMEOUT a claim stays the
// claimer's: time to write the outcome down.
const leaseSlack = 5 * time.Second

// Sender delivers the deliveries to its URLs.
type Sender struct {
	client *ent.Client
	claims Claimer
	opts   Options
	http   *http.Client
	log    *slog.Logger
	wakes  map[string]chan struct{}
}

// New checks the URLs' addresses (a refused one is a misconfiguration of
// WEBHOOK_URL) and returns a Sender for them; Run starts it.
func New(ctx context.Context, client *ent.Client, claims Claimer, opts Options, log *slog.Logger) (*Sender, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("configuration: WEBHOOK_SECRET: is needed with WEBHOOK_URL")
	}
	if err := CheckURLs(ctx, opts.URLs, opts.AllowPrivate, log); err != nil {
		return nil, err
	}
	return newSender(client, claims, opts, log), nil
}

// newSender is New without the check at start: the tests of the check at
// each connection start here.
func newSender(client *ent.Client, claims Claimer, opts Options, log *slog.Logger) *Sender {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 32
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Hour
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	s := &Sender{client: client, claims: claims, opts: opts, log: log, wakes: map[string]chan struct{}{}}
	s.http = newClient(opts.AllowPrivate, opts.MaxInFlight)
	for _, u := range opts.URLs {
		s.wakes[u] = make(chan struct{}, 1)
	}
	return s
}

// Wake has every loop claim now; it never blocks.
func (s *Sender) Wake() {
	for _, w := range s.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx ends, then waits for the tries in flight (each
// bounded by Timeout) so that their outcomes are written down.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for u, wake := range s.wakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, u, wake)
		}()
	}
	wg.Wait()
}

// loop claims and tries the deliveries to one URL.
func (s *Sender) loop(ctx context.Context, u string, wake chan struct{}) {
	receiver := Receiver(u)
	slots := make(chan struct{}, s.opts.MaxInFlight)
	// A try that ends frees a slot, and may make its file's next event
	// due. Under load, claiming for each would be a claim per delivery:
	// slots freed by tries are refilled a quarter of them at a time.
	ended := make(chan struct{}, 1)
	refill := max(cap(slots)/4, 1)
	release := func() {
		<-slots
		select {
		case ended <- struct{}{}:
		default:
		}
	}
	// Deliveries answered 2xx are written down together, in one
	// statement per batch, by one goroutine: at hundreds a second a
	// commit each would be the bottleneck.
	delivered := make(chan *ent.Delivery, cap(slots))
	written := make(chan struct{})
	go func() {
		defer close(written)
		s.writeDelivered(context.WithoutCancel(ctx), receiver, delivered, release)
	}()
	var tries sync.WaitGroup
	defer func() {
		tries.Wait()
		close(delivered)
		<-written
	}()
	poll := time.NewTicker(s.opts.Poll)
	defer poll.Stop()
	var failing time.Time // when claims started failing; zero while they work
	claim := true
	for {
		if free := cap(slots) - len(slots); claim && free > 0 {
			ds, err := s.claim(ctx, u, free)
			switch {
			case err != nil && ctx.Err() == nil:
				if failing.IsZero() || time.Since(failing) > time.Minute {
					s.log.Warn("webhooks.claim_failed", "receiver", receiver, "err", err)
					failing = time.Now()
				}
			case err == nil:
				failing = time.Time{}
			}
			for _, d := range ds {
				slots <- struct{}{}
				tries.Add(1)
				go func() {
					defer tries.Done()
					// A try started is finished and written down even
					// as the server stops: the lease would otherwise
					// hold the row for nothing.
					if s.try(context.WithoutCancel(ctx), receiver, d) {
						delivered <- d // its slot is freed once written
						return
					}
					release()
				}()
			}
			if err == nil && len(ds) == free {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			claim = true
		case <-poll.C:
			claim = true
		case <-ended:
			free := cap(slots) - len(slots)
			claim = free >= refill || free == cap(slots)
		}
	}
}

// claim takes up to n due deliveries to u, with their events.
func (s *Sender) claim(ctx context.Context, u string, n int) ([]*ent.Delivery, error) {
	now := s.opts.Now()
	ids, err := s.claims.Claim(ctx, s.client, u, now, now.Add(s.opts.Timeout+leaseSlack), n)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return s.client.Delivery.Query().Where(delivery.IDIn(ids...)).WithEvent().Order(delivery.ByID()).All(ctx)
}

// writeDelivered marks the deliveries received on ds delivered, as many
// at a time as have come, calling free for each once written.
func (s *Sender) writeDelivered(ctx context.Context, receiver string, ds <-chan *ent.Delivery, free func()) {
	for d := range ds {
		batch := []*ent.Delivery{d}
	more:
		for len(batch) < cap(ds) {
			select {
			case d, ok := <-ds:
				if !ok {
					break more
				}
				batch = append(batch, d)
			default:
				break more
			}
		}
		ids := make([]int, len(batch))
		for i, d := range batch {
			ids[i] = d.ID
		}
		now := s.opts.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		// Whoever holds a row now, its receiver has it.
		err := s.client.Delivery.Update().
			Where(delivery.IDIn(ids...), delivery.StatusEQ(delivery.StatusPending)).
			SetStatus(delivery.StatusDelivered).SetDoneAt(now).ClearLastError().
			Exec(wctx)
		cancel()
		for _, d := range batch {
			if err == nil {
				s.opts.Observer.Delivered(receiver, now.Sub(d.Edges.Event.CreatedAt))
				s.log.Debug("webhooks.delivered", "receiver", receiver, "delivery", d.ID, "webhook_id", d.Edges.Event.PublicID, "attempts", d.Attempts)
			}
			free()
		}
		if err != nil {
			// The rows stay pending and are sent again once their
			// leases run out: at least once.
			s.log.Warn("webhooks.record_failed", "receiver", receiver, "deliveries", len(ids), "err", err)
		}
	}
}

// try sends d once and reports whether the receiver took it; a failure it
// writes down itself.
func (s *Sender) try(ctx context.Context, receiver string, d *ent.Delivery) bool {
	start := time.Now()
	outcome, tryErr := s.send(ctx, d)
	s.opts.Observer.Tried(receiver, outcome, time.Since(start))
	if tryErr == nil {
		return true
	}
	now := s.opts.Now()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg := tryErr.Error()
	from := d.CreatedAt
	if d.RetriedAt != nil {
		from = *d.RetriedAt
	}
	deadline := from.Add(s.opts.RetryFor)
	// Only the claim this try came from may say what comes next: a row
	// claimed again meanwhile (this try outlived its lease) is another's.
	upd := s.client.Delivery.Update().
		Where(delivery.ID(d.ID), delivery.StatusEQ(delivery.StatusPending), delivery.Attempts(d.Attempts)).
		SetLastError(msg)
	if !now.Before(deadline) {
		n, err := upd.SetStatus(delivery.StatusFailed).SetDoneAt(now).Save(wctx)
		if err != nil {
			s.log.Warn("webhooks.record_failed", "receiver", receiver, "delivery", d.ID, "err", err)
			return false
		}
		if n > 0 {
			s.opts.Observer.Failed(receiver)
			s.log.Warn("webhooks.failed", "receiver", receiver, "delivery", d.ID, "webhook_id", d.Edges.Event.PublicID,
				"attempts", d.Attempts, "err", msg, "why", "no 2xx within WEBHOOK_RETRY_FOR; `filegraph webhooks retry` sends it again")
		}
		return false
	}
	next := now.Add(s.backoff(d.Attempts))
	if next.After(deadline) {
		next = deadline // one last try when the time is up
	}
	if err := upd.SetNextAttemptAt(next).Exec(wctx); err != nil {
		s.log.Warn("webhooks.record_failed", "receiver", receiver, "delivery", d.ID, "err", err)
		return false
	}
	s.log.Debug("webhooks.retry", "receiver", receiver, "delivery", d.ID, "attempts", d.Attempts, "next", next, "err", msg)
	return false
}

// backoff is the delay after the attempts-th failed try: Backoff doubled
// each time up to MaxBackoff, drawn between half of that and all of it, so
// that deliveries that failed together do not come back together.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.opts.MaxBackoff
	if attempts < 40 {
		d = min(s.opts.Backoff<<(max(attempts, 1)-1), s.opts.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// Body is what a webhook POSTs.
type Body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Payload is the body of ev's webhooks, the same on every try.
func Payload(ev *ent.Event) ([]byte, error) {
	return json.Marshal(Body{Type: ev.Type, Timestamp: ev.CreatedAt.UTC(), Data: json.RawMessage(ev.Data)})
}

// Sign is the webhook-signature of body sent with id at timestamp (Unix
// seconds), as Standard Webhooks says: v1, then the base64 of the
// HMAC-SHA256, with the secret's key, of id.timestamp.body.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// send POSTs d once; nil means the receiver answered 2xx in time.
func (s *Sender) send(ctx context.Context, d *ent.Delivery) (outcome string, err error) {
	ev := d.Edges.Event
	body, err := Payload(ev)
	if err != nil {
		return "error", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return "error", err
	}
	id := ev.PublicID.String()
	ts := s.opts.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Filegraph-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(s.opts.Secret, id, ts, body))
	res, err := s.http.Do(req)
	if err != nil {
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			return "refused", refused
		case errors.Is(err, context.DeadlineExceeded):
			return "timeout", fmt.Errorf("no answer within WEBHOOK_TIMEOUT (%v)", s.opts.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the row's own; it may carry a token
		}
		return "error", err
	}
	defer res.Body.Close()
	// At most MaxAnswer of the answer is read; closing the body with more
	// unread drops the connection rather than draining it.
	answer, readErr := io.ReadAll(io.LimitReader(res.Body, MaxAnswer))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return "ok", nil
	}
	outcome = fmt.Sprintf("http_%dxx", res.StatusCode/100)
	msg := fmt.Sprintf("HTTP %d", res.StatusCode)
	if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 && loc != "" {
		msg += " (redirects are not followed)"
	}
	if snippet := excerpt(answer); snippet != "" {
		msg += ": " + snippet
	} else if readErr != nil && errors.Is(readErr, context.DeadlineExceeded) {
		msg += ": the answer's body did not arrive within WEBHOOK_TIMEOUT"
	}
	return outcome, errors.New(msg)
}

// excerpt is the start of an answer, as text fit for a log or a terminal.
func excerpt(b []byte) string {
	const max = 200
	var out []rune
	for len(b) > 0 && len(out) < max {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			out = append(out, '?')
		case r < ' ' || r == 0x7f:
			out = append(out, ' ')
		default:
			out = append(out, r)
		}
	}
	s := string(bytes.TrimSpace([]byte(string(out))))
	if len(b) > 0 {
		s += "…"
	}
	return s
}

// Receiver is u's scheme and host: what logs and metrics call a receiver,
// without a path or query that may hold a token.
func Receiver(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "invalid"
	}
	return p.Scheme + "://" + p.Host
}

type noObserver struct{}

func (noObserver) Tried(string, string, time.Duration) {}
func (noObserver) Delivered(string, time.Duration)     {}
func (noObserver) Failed(string)                       {}
