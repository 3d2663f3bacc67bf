package catalogsql

import (
	"encoding/json"
	"fmt"
	"strings"

	"marquee/pkg/events"
	"marquee/services/catalog"
)

// A movie's row: the id, a column per writable field (events.Fields), the version and the times. A field's
// column is its JSON name, but for cast (cast_members); a list is a JSON array in a text column. The
// statements below are built from that once, so a new field of events.Movie needs only its migration here.

// fieldColumns are the columns of the writable fields, in the order of events.Fields.
var fieldColumns = func() []string {
	out := make([]string, len(events.Fields))
	for i, f := range events.Fields {
		out[i] = f.Name
		if f.Name == "cast" {
			out[i] = "cast_members"
		}
	}
	return out
}()

// movieColumns are the columns scanMovie reads.
var movieColumns = "id, " + strings.Join(fieldColumns, ", ") + ", version, created_at, updated_at"

// insertMovieSQL inserts a movie at version 1: the fieldArgs, then created_at, updated_at and title_key.
var insertMovieSQL = `INSERT INTO movies (` + strings.Join(fieldColumns, ", ") + `, version, created_at, updated_at,
	title_key) VALUES (` + strings.Repeat("?, ", len(fieldColumns)) + `1, ?, ?, ?)`

// updateMovieSQL writes a movie's next version: the fieldArgs, then version, updated_at, title_key, and the
// id and the version it replaces.
var updateMovieSQL = `UPDATE movies SET ` + strings.Join(fieldColumns, " = ?, ") + ` = ?, version = ?, updated_at = ?,
	title_key = ? WHERE id = ? AND version = ?`

// setInput sets the writable fields of m to in's.
func setInput(m *catalog.Movie, in catalog.MovieInput) {
	in.ID, in.Version, in.CreatedAt, in.UpdatedAt = m.ID, m.Version, m.CreatedAt, m.UpdatedAt
	*m = in
}

// fieldArgs returns the writable fields of m as statement arguments, in the order of fieldColumns: lists as
// their JSON (nil as []), a null field as NULL.
func fieldArgs(m *catalog.Movie) ([]any, error) {
	args := make([]any, 0, len(events.Fields)+5)
	for _, f := range events.Fields {
		v := f.Value(m)
		if items, ok := v.([]string); ok {
			b, err := json.Marshal(items)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f.Name, err)
			}
			v = string(b)
		}
		args = append(args, v)
	}
	return args, nil
}

// scanMovie scans the movieColumns, then any extra destinations.
func scanMovie(row interface{ Scan(...any) error }, extra ...any) (*catalog.Movie, error) {
	var (
		m                    catalog.Movie
		createdAt, updatedAt timeValue
	)
	dest := make([]any, 0, len(events.Fields)+4+len(extra))
	dest = append(dest, &m.ID)
	for _, f := range events.Fields {
		p := f.Ptr(&m) // database/sql scans NULL into a pointer field as nil
		if items, ok := p.(*[]string); ok {
			p = jsonList{items}
		}
		dest = append(dest, p)
	}
	dest = append(dest, &m.Version, &createdAt, &updatedAt)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = timeOf(createdAt), timeOf(updatedAt)
	return &m, nil
}

// jsonList scans a list column (a JSON array) into the list it points to; "" and null are [].
type jsonList struct{ items *[]string }

func (l jsonList) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	case nil:
	default:
		return fmt.Errorf("a list column holds %T", src)
	}
	*l.items = nil
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, l.items); err != nil {
			return fmt.Errorf("decode list: %w", err)
		}
	}
	if *l.items == nil {
		*l.items = []string{}
	}
	return nil
}
