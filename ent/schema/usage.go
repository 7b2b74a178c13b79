package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Usage is one user's running totals, kept by the same transactions that
// add and remove their uploads and files, so that limits are checked by
// one conditional update of this row and a listing's totalCount is read
// from it, at a cost that does not grow with what the user holds.
type Usage struct {
	ent.Schema
}

// Fields of the Usage.
func (Usage) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			StorageKey("owner").
			Comment("The user's id, as in files.owner and uploads.owner.").
			NotEmpty().
			Immutable(),
		field.Int64("pending_count").
			Comment("Upload rows of the user: issued, not yet saved or swept.").
			Default(0),
		field.Int64("pending_bytes").
			Comment("Their announced sizes.").
			Default(0),
		field.Int64("saved_count").
			Comment("The user's files, less those being deleted.").
			Default(0),
		field.Int64("saved_bytes").
			Comment("Their sizes.").
			Default(0),
		field.Int64("file_writes").
			Comment("Bumped by every change to the user's files a filtered listing can see (a save, an update, a delete's mark or its undoing, a reconcile's fix): a filtered totalCount kept by a replica holds while this is unchanged.").
			Default(0),
	}
}
