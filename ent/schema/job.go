package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Job is work on a saved file that runs after its save (a virus scan,
// image variants), written by the save's transaction: it exists if and only
// if the file was saved, and a crash loses none. Whichever replica claims
// it runs it; a finished job's row is deleted, as are a deleted file's.
type Job struct {
	ent.Schema
}

// Fields of the Job.
func (Job) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").
			Immutable(),
		field.UUID("file_id", uuid.UUID{}).
			Immutable(),
		field.Enum("kind").
			Values("scan", "variants").
			Immutable(),
		field.Int("attempts").
			Default(0),
		// When it may be run next. A replica that claims it moves this past
		// the run's deadline, so that a replica killed mid-run leaves it to
		// another once that time has passed.
		field.Time("next_attempt_at"),
		field.String("last_error").
			Optional(),
		field.Time("created_at").
			Default(time.Now).
			Immutable(),
	}
}

// Indexes of the Job.
func (Job) Indexes() []ent.Index {
	return []ent.Index{
		// What is due, oldest first.
		index.Fields("next_attempt_at"),
		// A deleted file's jobs.
		index.Fields("file_id"),
	}
}
