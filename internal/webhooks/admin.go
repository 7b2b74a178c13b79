package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/delivery"
	"github.com/filegraph/filegraph/ent/event"
)

// What operators see and do (filegraph webhooks), and the pruning every
// replica does. They work on the table alone, so they run whether or not
// this process sends webhooks.

// Failed lists the deliveries given up, newest first, with their events.
func Failed(ctx context.Context, client *ent.Client, limit int) ([]*ent.Delivery, error) {
	return client.Delivery.Query().
		Where(delivery.StatusEQ(delivery.StatusFailed)).
		Order(delivery.ByID()).
		Limit(limit).
		WithEvent().
		All(ctx)
}

// ErrNotFailed is a retry of a delivery that is not failed (or not there).
var ErrNotFailed = errors.New("no failed delivery has that id")

// Retry sends failed delivery id back to pending: it is tried at once, and
// for WEBHOOK_RETRY_FOR from now.
func Retry(ctx context.Context, client *ent.Client, id int, now time.Time) error {
	n, err := retry(client.Delivery.Update().Where(delivery.ID(id)), now).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delivery %d: %w", id, ErrNotFailed)
	}
	return nil
}

// RetryAll sends every failed delivery back to pending and says how many.
func RetryAll(ctx context.Context, client *ent.Client, now time.Time) (int, error) {
	return retry(client.Delivery.Update(), now).Save(ctx)
}

func retry(u *ent.DeliveryUpdate, now time.Time) *ent.DeliveryUpdate {
	return u.Where(delivery.StatusEQ(delivery.StatusFailed)).
		SetStatus(delivery.StatusPending).
		SetAttempts(0).
		SetNextAttemptAt(now).
		SetRetriedAt(now).
		ClearDoneAt()
}

// Stats are the queue as the metrics show it.
type Stats struct {
	Pending int
	// Oldest is when the oldest pending delivery's event was written;
	// zero when none is pending.
	Oldest time.Time
}

// Queue reads the pending deliveries' count and the oldest one's age.
func Queue(ctx context.Context, client *ent.Client) (Stats, error) {
	pending := client.Delivery.Query().Where(delivery.StatusEQ(delivery.StatusPending))
	n, err := pending.Clone().Count(ctx)
	if err != nil || n == 0 {
		return Stats{Pending: n}, err
	}
	oldest, err := pending.Order(delivery.ByID()).First(ctx)
	if ent.IsNotFound(err) {
		return Stats{}, nil // delivered meanwhile
	}
	if err != nil {
		return Stats{}, err
	}
	return Stats{Pending: n, Oldest: oldest.CreatedAt}, nil
}

// Pruned says what one Prune removed or gave up.
type Pruned struct {
	Deliveries, Events, Abandoned int
}

// pruneBatch bounds the rows one statement removes, so that no prune
// holds many locks or a long write on SQLite.
const pruneBatch = 1000

// Prune removes what was delivered before now-keep, and the events before
// it that no delivery refers to (every event, when no webhook is set). A
// delivery still pending to a URL that is no longer among urls, older
// than retryFor, is marked failed: no replica will send it any more.
func Prune(ctx context.Context, client *ent.Client, keep, retryFor time.Duration, urls []string, now time.Time) (Pruned, error) {
	var p Pruned
	cut := now.Add(-keep)
	for {
		ids, err := client.Delivery.Query().
			Where(delivery.StatusEQ(delivery.StatusDelivered), delivery.DoneAtLT(cut)).
			Limit(pruneBatch).IDs(ctx)
		if err != nil || len(ids) == 0 {
			if err != nil {
				return p, err
			}
			break
		}
		n, err := client.Delivery.Delete().Where(delivery.IDIn(ids...)).Exec(ctx)
		p.Deliveries += n
		if err != nil {
			return p, err
		}
	}
	for {
		ids, err := client.Event.Query().
			Where(event.CreatedAtLT(cut), event.Not(event.HasDeliveries())).
			Limit(pruneBatch).IDs(ctx)
		if err != nil || len(ids) == 0 {
			if err != nil {
				return p, err
			}
			break
		}
		// Checked again in the statement: a retry may not have been
		// meanwhile, but nothing new refers to an old event.
		n, err := client.Event.Delete().Where(event.IDIn(ids...), event.Not(event.HasDeliveries())).Exec(ctx)
		p.Events += n
		if err != nil {
			return p, err
		}
	}
	n, err := client.Delivery.Update().
		Where(delivery.StatusEQ(delivery.StatusPending), delivery.URLNotIn(urls...), delivery.CreatedAtLT(now.Add(-retryFor))).
		SetStatus(delivery.StatusFailed).
		SetDoneAt(now).
		SetLastError("its URL is no longer in WEBHOOK_URL").
		Save(ctx)
	p.Abandoned = n
	return p, err
}
