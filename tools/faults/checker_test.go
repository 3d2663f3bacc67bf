package main

import (
	"testing"
	"time"
)

// TestCheckDB feeds the checker histories and MySQL states with one known anomaly each: a checker that
// never finds anything would pass every scenario.
func TestCheckDB(t *testing.T) {
	t0 := time.Now()
	create := func(token string, id int64, status int) op {
		return op{Kind: opCreate, Token: token, Title: token + " premiere", ID: id, Status: status, Version: 1, End: t0}
	}
	update := func(id, version int64, title string, status int) op {
		return op{Kind: opUpdateIf, ID: id, Title: title, Status: status, Version: version, End: t0}
	}
	del := func(id, version int64, status int) op {
		return op{Kind: opDeleteIf, ID: id, Status: status, Version: version, End: t0}
	}
	row := func(id int64, title string, version int64, deleted bool) dbRow {
		return dbRow{id: id, title: title, version: version, deleted: deleted}
	}
	tests := []struct {
		name                          string
		ops                           []op
		rows                          []dbRow
		lost, duplicated, resurrected int
	}{
		{
			name: "consistent",
			ops:  []op{create("a1", 1, 201), update(1, 2, "a1 sequel", 200), create("b1", 2, 201), del(2, 2, 204)},
			rows: []dbRow{row(1, "a1 sequel", 2, false), row(2, "b1 premiere", 2, true)},
		},
		{
			name: "acknowledged create missing",
			ops:  []op{create("a1", 1, 201)},
			rows: nil,
			lost: 1,
		},
		{
			name: "acknowledged update missing",
			ops:  []op{create("a1", 1, 201), update(1, 2, "a1 sequel", 200)},
			rows: []dbRow{row(1, "a1 premiere", 1, false)},
			lost: 1,
		},
		{
			name: "two acknowledgements of one version (lost update)",
			ops:  []op{create("a1", 1, 201), update(1, 2, "a1 x", 200), update(1, 2, "a1 y", 200)},
			rows: []dbRow{row(1, "a1 y", 2, false)},
			lost: 1, // one of the two acknowledged updates is gone
		},
		{
			name: "acknowledged content replaced",
			ops:  []op{create("a1", 1, 201), update(1, 2, "a1 mine", 200)},
			rows: []dbRow{row(1, "a1 theirs", 2, false)},
			lost: 1,
		},
		{
			name:       "retried create made two movies",
			ops:        []op{create("a1", 0, 502), create("a1", 2, 201)},
			rows:       []dbRow{row(1, "a1 premiere", 1, false), row(2, "a1 premiere", 1, false)},
			duplicated: 1,
		},
		{
			name: "unknown create that did create",
			ops:  []op{create("a1", 0, 0)},
			rows: []dbRow{row(1, "a1 premiere", 1, false)},
		},
		{
			name:       "refused create that created",
			ops:        []op{create("a1", 0, 422)},
			rows:       []dbRow{row(1, "a1 premiere", 1, false)},
			duplicated: 1,
		},
		{
			name:       "more versions than writes",
			ops:        []op{create("a1", 1, 201)},
			rows:       []dbRow{row(1, "a1 premiere", 3, false)},
			duplicated: 2,
		},
		{
			name:        "acknowledged delete undone",
			ops:         []op{create("a1", 1, 201), del(1, 2, 204), update(1, 3, "a1 again", 500)},
			rows:        []dbRow{row(1, "a1 again", 3, false)},
			resurrected: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := map[int64]dbRow{}
			for _, r := range tt.rows {
				rows[r.id] = r
			}
			var v verdict
			checkDB(tt.ops, rows, &v)
			if v.lostDB != tt.lost || v.duplicated != tt.duplicated || v.resurrected != tt.resurrected {
				t.Errorf("lost=%d duplicated=%d resurrected=%d, want %d %d %d; evidence %q",
					v.lostDB, v.duplicated, v.resurrected, tt.lost, tt.duplicated, tt.resurrected, v.problems)
			}
		})
	}
}
