package searchindex

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"marquee/services/search"
)

// TestTextStatsAsZap: for every posting of every word of every scored text field, in segments written by
// two batches, the field's length and the word's repeats give the frequency and the norm zap stores beside
// the posting; and a cursor scoring from them over a random part of a list lands where zap's narrowed
// iterator lands, by next and by advance, with the same √tf × norm; and the bound of √tf × norm that pruning
// takes for a set of documents is a document's own for a set of one, and no less than the largest in a
// list. The movies repeat words within a value and across a list's values (a cast's names), leave fields
// empty, and hold a field of more words than the table of usual norms.
func TestTextStatsAsZap(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true, mergePlan: map[string]any{"MaxSegmentsPerTier": 1 << 20, "FloorSegmentSize": 1, "FloorSegmentFileSize": 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(3, 4))
	vocab := strings.Fields("night day dawn the of a war star love man woman city dark light river king queen john smith doe amélie café ninja")
	words := func(n int) string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(ws, " ")
	}
	list := func(n, each int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = words(1 + r.IntN(each))
		}
		return out
	}
	var movies []search.Movie
	for id := int64(1); id <= 600; id++ {
		m := search.Movie{ID: id, Title: words(1 + r.IntN(6)), Overview: words(r.IntN(60)), Tagline: words(r.IntN(8)),
			Cast: list(r.IntN(6), 3), Directors: list(r.IntN(3), 2), Genres: list(r.IntN(3), 2), Keywords: list(r.IntN(5), 2), Tags: list(r.IntN(3), 2)}
		movies = append(movies, m)
	}
	movies = append(movies,
		search.Movie{ID: 1001, Title: "Tora! Tora! Tora!", Cast: []string{"John Smith", "John Doe", "Smith"}, Genres: []string{"Science Fiction"}},
		search.Movie{ID: 1002, Title: "Long", Overview: words(1500)}, // beyond the table of usual norms
		search.Movie{ID: 1003, Title: "Café Café", Keywords: []string{"café", "Café society", "cafe"}},
	)
	for part, batch := range [][]search.Movie{movies[:300], movies[300:]} {
		var changes []Change
		for i := range batch {
			changes = append(changes, Change{ID: batch[i].ID, Version: 1, Movie: &batch[i]})
		}
		if _, err := x.Apply(context.Background(), changes, uint64(part+1)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()
	if len(s.segs) < 2 {
		t.Fatalf("%d segments, want two or more", len(s.segs))
	}

	postings, repeated, unscanned := 0, 0, 0
	for i, sg := range s.segs {
		fl, err := sg.cache.fieldLengths(sg.ss.Segment())
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range scoredTextFields {
			d, err := sg.ss.Segment().Dictionary(field)
			if err != nil {
				t.Fatal(err)
			}
			it := d.AutomatonIterator(nil, nil, nil)
			for {
				e, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				if e == nil {
					break
				}
				lens, reps, ok, err := s.scoringStats(field, e.Term, i)
				if err != nil || !ok {
					t.Fatalf("segment %d, %s:%s: no stats (%v)", i, field, e.Term, err)
				}
				if code, _ := statsCode(field); &lens.docs[0] != &sg.cache.docs[0] || lens.k != int(code-'a') || !fl.fits[lens.k] {
					t.Fatalf("%s: the lengths are not the segment's field's", field)
				}
				pl, err := d.PostingsList([]byte(e.Term), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				zit := pl.Iterator(true, true, false, nil)
				c := &postingCursor{in: rawBitmap(pl).Iterator(), lens: lens, reps: reps} // walked along
				listMax := 0.0
				for {
					p, err := zit.Next()
					if err != nil {
						t.Fatal(err)
					}
					if p == nil {
						break
					}
					postings++
					if got := lengthNorm(lens.of(p.Number())); got != p.Norm() {
						t.Fatalf("segment %d, %s:%s, doc %d: norm of length %d is %v, zap %v", i, field, e.Term, p.Number(), lens.of(p.Number()), got, p.Norm())
					}
					if err := c.next(); err != nil || c.num != p.Number() {
						t.Fatalf("segment %d, %s:%s: the cursor is at %d, zap at %d (%v)", i, field, e.Term, c.num, p.Number(), err)
					}
					if got, want := c.sqrtTF(), math.Sqrt(float64(p.Frequency())); got != want {
						t.Fatalf("segment %d, %s:%s, doc %d: √tf %v, zap %v", i, field, e.Term, p.Number(), got, want)
					}
					if p.Frequency() > 1 {
						repeated++
					}
					// The bound of a set of one is the document's own √tf × norm, neither factor looser or tighter,
					// unless its length is beyond those maxNorm tries: then it is at least that.
					want := math.Sqrt(float64(p.Frequency())) * p.Norm()
					listMax = max(listMax, want)
					one := roaring.BitmapOf(uint32(p.Number()))
					got := termTop(lens, reps, one)
					scanned := slices.IndexFunc(lens.byLen, func(ld lengthDocs) bool { return ld.n == lens.of(p.Number()) }) < maxNormScan
					if got*(1+1e-6) < want || scanned && got > want*(1+1e-6) {
						t.Fatalf("segment %d, %s:%s, doc %d: bound %v, √tf × norm %v", i, field, e.Term, p.Number(), got, want)
					}
					if !scanned {
						unscanned++
					}
				}
				if pl.Count() > 1 {
					all := rawBitmap(pl)
					if got := termTop(lens, reps, all); got*(1+1e-6) < listMax {
						t.Fatalf("segment %d, %s:%s: bound %v below the list's largest √tf × norm %v", i, field, e.Term, got, listMax)
					}
				}
				checkCursor(t, r, s, field, e.Term, i)
			}
		}
	}
	if postings < 10_000 || repeated < 500 || unscanned < 100 {
		t.Fatalf("%d postings of which %d repeat a word and %d are of a length maxNorm does not try: too few to tell", postings, repeated, unscanned)
	}
}

// checkCursor walks a cursor scoring from the stats and zap's iterator, both narrowed to a random part of
// the list, and requires the same documents and √tf × norm at every step.
func checkCursor(t *testing.T, r *rand.Rand, s *execShard, field, term string, i int) {
	t.Helper()
	tp, err := s.postings(field, term)
	if err != nil || tp.lists[i] == nil {
		t.Fatalf("postings of %s:%s: %v", field, term, err)
	}
	lens, reps, _, err := s.scoringStats(field, term, i)
	if err != nil {
		t.Fatal(err)
	}
	cands := roaring.New()
	it := tp.raws[i].Iterator()
	for it.HasNext() {
		if d := it.Next(); r.IntN(3) == 0 {
			cands.Add(d)
		}
	}
	narrowed := roaring.And(tp.raws[i], cands)
	c := &postingCursor{in: narrowed.Iterator(), lens: lens, reps: reps}
	z := &postingCursor{it: tp.lists[i].Iterator(true, true, false, nil)}
	z.it.(interface{ ReplaceActual(*roaring.Bitmap) }).ReplaceActual(narrowed.Clone())
	for step := 0; ; step++ {
		var errC, errZ error
		if step%3 == 2 {
			target := c.num + uint64(r.IntN(20))
			errC, errZ = c.advance(target), z.advance(target)
		} else {
			errC, errZ = c.next(), z.next()
		}
		if errC != nil || errZ != nil {
			t.Fatal(errC, errZ)
		}
		if c.num != z.num {
			t.Fatalf("%s:%s step %d: cursor at %d, zap at %d", field, term, step, c.num, z.num)
		}
		if c.num == math.MaxUint64 {
			return
		}
		if c.tfNorm() != z.tfNorm() {
			t.Fatalf("%s:%s doc %d: tf × norm %v, zap %v", field, term, c.num, c.tfNorm(), z.tfNorm())
		}
	}
}

// TestTextStatsOfADocument: the stats field of one document, term by term.
func TestTextStatsOfADocument(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	m := &search.Movie{ID: 7, Title: "Tora! Tora! Tora!", Cast: []string{"John Smith", "John Doe"}, Overview: "the cat and the hat"}
	if _, err := x.Apply(context.Background(), []Change{{ID: 7, Version: 1, Movie: m}}, 1); err != nil {
		t.Fatal(err)
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()
	d, err := s.segs[0].ss.Segment().Dictionary(fieldTextStats)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	it := d.AutomatonIterator(nil, nil, nil)
	for {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		got[e.Term] = e.Count
		pl, err := d.PostingsList([]byte(e.Term), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pl.Iterator(true, false, false, nil).Next()
		if err != nil || p == nil {
			t.Fatalf("%s: %v", e.Term, err)
		}
		got[e.Term] = p.Frequency()
	}
	code := func(f string) byte { c, _ := statsCode(f); return c }
	length := func(f string, n int) string { return string(code(f)) + "#" + strconv.Itoa(n) }
	repeat := func(f, word string, k int) string { return string(repeatTerm(code(f), word, k)) }
	want := map[string]uint64{
		length(fieldTitle, 3): 1, repeat(fieldTitle, "tora", 3): 1,
		length(fieldCast, 4): 1, repeat(fieldCast, "john", 2): 1,
		length(fieldOverview, 5): 1, repeat(fieldOverview, "the", 2): 1,
	}
	if len(got) != len(want) {
		t.Errorf("terms %v, want %v", got, want)
	}
	for term, n := range want {
		if got[term] != n {
			t.Errorf("%q: %d, want %d (all: %v)", term, got[term], n, got)
		}
	}
}

// TestSegmentWithoutTextStats: a segment written without the stats field (as Bleve's own Index writes it)
// has no lengths, and its matches are scored from zap's postings, as Bleve's searchers score them.
func TestSegmentWithoutTextStats(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	b := x.shards[0].NewBatch()
	for id := int64(1); id <= 40; id++ {
		m := &search.Movie{ID: id, Title: "Night of the " + strconv.Itoa(int(id)%7) + " Night", Overview: strings.Repeat("dark night ", int(id)%4+1), Cast: []string{"John Smith", "John Doe"}}
		d, err := x.toDoc(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Index(strconv.FormatInt(id, 10), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.shards[0].Batch(b); err != nil {
		t.Fatal(err)
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	fl, err := s.segs[0].cache.fieldLengths(s.segs[0].ss.Segment())
	s.r.Close()
	if err != nil {
		t.Fatal(err)
	}
	for k, fits := range fl.fits {
		if fits {
			t.Fatalf("%s has lengths in a segment without the stats", scoredTextFields[k])
		}
	}
	ref := WithOptions(x, Options{BleveExecutor: true})
	for _, text := range []string{"night", "dark night", "john", "smith night"} {
		q := search.Query{Text: text, PerPage: 10}
		got, err := WithOptions(x, Options{}).Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != want.Total || len(got.Hits) != len(want.Hits) || len(got.Hits) == 0 {
			t.Fatalf("%q: %d hits of %d, Bleve %d of %d", text, len(got.Hits), got.Total, len(want.Hits), want.Total)
		}
		for i := range got.Hits {
			if got.Hits[i].ID != want.Hits[i].ID || math.Abs(got.Hits[i].Score-want.Hits[i].Score) > 1e-12*want.Hits[i].Score {
				t.Errorf("%q hit %d: %d scored %v, Bleve %d scored %v", text, i, got.Hits[i].ID, got.Hits[i].Score, want.Hits[i].ID, want.Hits[i].Score)
			}
		}
	}
}

// TestCursorWalksRepeats: a cursor's √tf, walked along its word's repeat counts, is the count of the
// document it is on, for random disjoint counts (document 0 and the last among them, counts that end early),
// the cursor stepping or jumping ahead over repeating documents.
func TestCursorWalksRepeats(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 300 {
		const docs = 3000
		var reps repeats
		level := map[uint32]float64{}
		counts := 2 + r.IntN(5)
		for k := 2; k < counts; k++ {
			b := roaring.New()
			for range r.IntN(40) {
				d := uint32(r.IntN(docs))
				if round%3 == 0 {
					d = uint32(r.IntN(docs / 10)) // counts that end early
				}
				if _, taken := level[d]; !taken {
					level[d] = math.Sqrt(float64(k))
					b.Add(d)
				}
			}
			if round%5 == 0 {
				for _, d := range []uint32{0, docs - 1} {
					if _, taken := level[d]; !taken {
						level[d] = math.Sqrt(float64(k))
						b.Add(d)
					}
				}
			}
			reps = append(reps, repeated{docs: b, tf: math.Sqrt(float64(k))})
		}
		cands := roaring.New()
		for d := range uint32(docs) {
			if _, repeated := level[d]; repeated || r.IntN(4) == 0 {
				cands.Add(d)
			}
		}
		c := &postingCursor{in: cands.Iterator(), reps: reps}
		for step := 0; ; step++ {
			var err error
			if step%4 == 3 {
				err = c.advance(c.num + uint64(r.IntN(50)))
			} else {
				err = c.next()
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.num == math.MaxUint64 {
				break
			}
			want, ok := level[uint32(c.num)]
			if !ok {
				want = 1
			}
			if got := c.sqrtTF(); got != want {
				t.Fatalf("round %d, document %d: √tf %v, want %v", round, c.num, got, want)
			}
		}
	}
}
