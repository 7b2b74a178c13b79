package schema

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"entgo.io/ent/dialect"
)

// Metadata is a file's (and an upload's) metadata: string pairs the app
// gave, stored as a JSON object (jsonb on PostgreSQL, where a GIN index
// answers containment). It is a field of its own type rather than ent's
// JSON field because ent binds JSON as bytes, which lib/pq sends as
// binary parameters (binary_parameters=yes) that jsonb does not take;
// as text both databases read it.
type Metadata map[string]string

// metadataColumn is the column type of Metadata.
var metadataColumn = map[string]string{dialect.Postgres: "jsonb", dialect.SQLite: "json"}

// Value writes the pairs as a JSON object, {} for none.
func (m Metadata) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(m))
	return string(b), err
}

// Scan reads a JSON object of strings.
func (m *Metadata) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
		*m = Metadata{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("metadata: cannot scan %T", v)
	}
	out := Metadata{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	*m = out
	return nil
}
