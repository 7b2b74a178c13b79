package database

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/internal/events"
)

// countingReader is the real EventReader, its reads counted.
type countingReader struct {
	*EventReader
	nexts, skips atomic.Int64
}

func (c *countingReader) Next(ctx context.Context, n int) ([]*ent.Event, error) {
	c.nexts.Add(1)
	return c.EventReader.Next(ctx, n)
}

func (c *countingReader) Skip(ctx context.Context) error {
	c.skips.Add(1)
	return c.EventReader.Skip(ctx)
}

// A hub reads the outbox only while someone subscribes: commits, wakes
// and polls with no subscriber read nothing. A subscriber after such a
// spell gets what commits after it, and nothing from before it.
func TestHubIdlesWithoutSubscribers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			url, dir := b.open(t)
			db, err := Open(ctx, url, dir, true, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			src := &countingReader{EventReader: db.EventReader()}
			hub := events.NewHub(src, events.Limits{}, nil, quiet)
			ran := make(chan struct{})
			go func() { defer close(ran); hub.Run(ctx, 5*time.Millisecond) }()
			defer func() { cancel(); <-ran }()

			// next waits for sub's next event, at most 10 s.
			next := func(sub *events.Subscription) int64 {
				t.Helper()
				select {
				case e, ok := <-sub.C:
					if !ok {
						t.Fatalf("the subscription ended: %v", sub.Err())
					}
					return e.Seq
				case <-time.After(10 * time.Second):
					t.Fatal("no event within 10 s")
				}
				return 0
			}
			// idle commits and wakes the hub with no one subscribed, over
			// some 40 of its polls, and wants no read.
			idle := func() {
				t.Helper()
				before := src.nexts.Load()
				for range 4 {
					commitEvent(t, db)
					hub.Wake()
					time.Sleep(50 * time.Millisecond)
				}
				if n := src.nexts.Load() - before; n != 0 {
					t.Fatalf("the hub read the outbox %d times with no subscriber", n)
				}
			}

			idle()
			sub, err := hub.Subscribe(ctx, events.Filter{All: true})
			if err != nil {
				t.Fatal(err)
			}
			if src.skips.Load() != 1 {
				t.Fatalf("%d skips, want 1", src.skips.Load())
			}
			want := commitEvent(t, db)
			hub.Wake()
			if got := next(sub); got != want {
				t.Fatalf("the first event after subscribing is %d, want %d (committed after it)", got, want)
			}
			// A second subscriber while one is there skips nothing.
			other, err := hub.Subscribe(ctx, events.Filter{All: true})
			if err != nil {
				t.Fatal(err)
			}
			want = commitEvent(t, db)
			hub.Wake()
			if got := next(sub); got != want {
				t.Fatalf("the first subscriber's next event is %d, want %d", got, want)
			}
			if got := next(other); got != want {
				t.Fatalf("the second subscriber's first event is %d, want %d", got, want)
			}
			sub.Close()
			other.Close()

			// Idle again, then a new subscriber: again only what follows it.
			time.Sleep(50 * time.Millisecond) // a read under way ends
			idle()
			sub, err = hub.Subscribe(ctx, events.Filter{All: true})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if src.skips.Load() != 2 {
				t.Fatalf("%d skips, want 2", src.skips.Load())
			}
			want = commitEvent(t, db)
			hub.Wake()
			if got := next(sub); got != want {
				t.Fatalf("the first event after subscribing again is %d, want %d", got, want)
			}
		})
	}
}
