package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Event is one change to a file, written by the same transaction as the
// change (an outbox): it exists if and only if the change committed.
// Subscriptions and webhooks read events from here, never from the
// request that made them, so a crash loses none.
type Event struct {
	ent.Schema
}

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		// The sequence. The events of one file are numbered in the order
		// of its changes: each transaction that writes one has written the
		// file's row first, so the next waits for its commit. Across
		// files, numbers are not in commit order (internal/database's
		// EventReader reads by transaction, then by number).
		field.Int64("id").
			Immutable(),
		field.UUID("public_id", uuid.UUID{}).
			Comment("The id clients see: FileEvent.id and webhook-id.").
			Default(newID).
			Unique().
			Immutable(),
		field.String("type").
			Comment("file.saved, file.updated, file.deleted, file.scanned.").
			NotEmpty().
			Immutable(),
		field.UUID("file_id", uuid.UUID{}).
			Immutable(),
		field.String("owner").
			NotEmpty().
			Immutable(),
		field.String("collection").
			Comment("The file's collection, if it has one.").
			Optional().
			Immutable(),
		// Text, not jsonb: nothing queries into it, and lib/pq's binary
		// parameters (internal/database) would send jsonb a []byte it
		// cannot read.
		field.Text("data").
			Comment("The file as it was at the change, as JSON: a webhook's data.").
			Immutable(),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
		// The writing transaction's id on PostgreSQL (pg_current_xact_id,
		// as a number; 0 on SQLite, and on rows older than the column):
		// readers take the events whose transactions committed between two
		// snapshots of theirs (internal/database's EventReader). Set by the
		// writer (Outbox.Stamp); the column's default is the same, for a
		// replica of before the column that writes events while others have
		// migrated (a rolling upgrade).
		field.Int64("xid").
			Annotations(entsql.DefaultExprs(map[string]string{
				dialect.Postgres: "(pg_current_xact_id())::text::bigint",
				dialect.SQLite:   "0",
			})).
			Immutable(),
	}
}

// Edges of the Event.
func (Event) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", Delivery.Type),
	}
}

// Indexes of the Event.
func (Event) Indexes() []ent.Index {
	return []ent.Index{
		// Pruning goes by age.
		index.Fields("created_at"),
		// Readers look up the transactions a snapshot did not see.
		index.Fields("xid"),
	}
}

// Delivery is one event to send to one webhook URL, written with the
// event. Whichever replica claims it sends it, until the receiver answers
// 2xx or WEBHOOK_RETRY_FOR has passed.
type Delivery struct {
	ent.Schema
}

// Fields of the Delivery.
func (Delivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("event_id").
			Immutable(),
		field.String("url").
			NotEmpty().
			Immutable(),
		// The event's file, copied: a delivery waits for the earlier
		// deliveries of its file to the same URL, so receivers see each
		// file's events in order.
		field.UUID("file_id", uuid.UUID{}).
			Immutable(),
		field.Enum("status").
			Values("pending", "delivered", "failed").
			Default("pending"),
		field.Int("attempts").
			Default(0),
		// When it may be tried next. A replica that claims it moves this
		// past the try's end, so that a replica killed mid-try leaves it
		// to another once that time has passed.
		field.Time("next_attempt_at"),
		field.String("last_error").
			Optional(),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
		field.Time("done_at").
			Comment("When it was delivered or given up.").
			Optional().
			Nillable(),
		// Tries go on for WEBHOOK_RETRY_FOR from here, or from created_at
		// when it was never retried by hand.
		field.Time("retried_at").
			Comment("When an operator last sent it back to pending (filegraph webhooks retry).").
			Optional().
			Nillable(),
	}
}

// Edges of the Delivery.
func (Delivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("event", Event.Type).
			Ref("deliveries").
			Field("event_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the Delivery.
func (Delivery) Indexes() []ent.Index {
	return []ent.Index{
		// What is due to one URL, oldest first: with url only filtered,
		// a URL's claim read past every due row of the others (a receiver
		// down for hours: 267 ms a claim over another URL's 200,000, 4.5-13
		// ms with url in the index). Status first still serves the
		// queries by status alone (metrics, failed lists).
		index.Fields("status", "url", "next_attempt_at"),
		// The earlier deliveries of a file to a URL.
		index.Fields("file_id", "url", "event_id"),
		index.Fields("done_at"),
	}
}
