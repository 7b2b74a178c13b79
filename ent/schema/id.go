package schema

import "github.com/google/uuid"

// newID returns a UUID v7; it falls back to v4 only if the clock source
// fails, which uuid.NewV7 reports as an error.
func newID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}
