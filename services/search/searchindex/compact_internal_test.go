package searchindex

import (
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
)

type fakeSegment struct {
	id         uint64
	live, full int64
}

func (f fakeSegment) Id() uint64          { return f.id }
func (f fakeSegment) FullSize() int64     { return f.full }
func (f fakeSegment) LiveSize() int64     { return f.live }
func (f fakeSegment) HasVector() bool     { return false }
func (f fakeSegment) FileSize() int64     { return f.full * 2000 }
func (f fakeSegment) LiveFileSize() int64 { return f.live * 2000 }

// TestCompactPlan: Bleve's planner, given the plan of compactPlan, merges every segment into one, or every
// segment but the largest when that holds at least half of the documents and few deleted ones.
func TestCompactPlan(t *testing.T) {
	for _, c := range []struct {
		name      string
		sizes     []int64
		deleted   int64 // of the largest
		untouched int64 // the live size of the segment left out; 0: none
	}{
		{"after an import", []int64{90_000, 95_000, 88_000, 91_000, 20_000, 19_000, 2_000, 1_500, 300, 7}, 0, 0},
		{"edits after a compaction", []int64{1_000_000, 2_000, 300, 40, 7, 1}, 2_347, 1_000_000},
		{"a large import after a compaction", []int64{1_000_000, 600_000, 500_000, 2_000}, 0, 0},
		{"half exactly", []int64{500, 300, 200}, 0, 500},
		{"two alike", []int64{500, 500, 10}, 0, 0},
		{"many deleted", []int64{1_000_000, 2_000, 300}, 150_000, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var segs []mergeplan.Segment
			full := slices.Clone(c.sizes)
			full[0] += c.deleted
			for i, n := range c.sizes {
				segs = append(segs, fakeSegment{id: uint64(i + 1), live: n, full: full[i]})
			}
			opts := compactPlan(c.sizes, full)
			plan, err := mergeplan.Plan(segs, &opts)
			if err != nil {
				t.Fatal(err)
			}
			if plan == nil || len(plan.Tasks) != 1 {
				t.Fatalf("plan %+v, want one task", plan)
			}
			var merged []int64
			for _, s := range plan.Tasks[0].Segments {
				merged = append(merged, s.LiveSize())
			}
			want := slices.Clone(c.sizes)
			if c.untouched > 0 {
				want = slices.DeleteFunc(want, func(n int64) bool { return n == c.untouched })
			}
			slices.Sort(merged)
			slices.Sort(want)
			if !slices.Equal(merged, want) {
				t.Errorf("merges %v, want %v", merged, want)
			}
		})
	}
}
