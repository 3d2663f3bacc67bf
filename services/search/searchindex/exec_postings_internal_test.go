package searchindex

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"marquee/services/search"
)

// TestDecodedPostings: a decoded list holds what zap's iterator gives for every posting, a cursor over it
// lands where zap's Advance lands with the same √tf × norm, and the cache stays within its budget,
// dropping the least recently used list first.
func TestDecodedPostings(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 3 * minDecoded
	var changes []Change
	for id := int64(1); id <= n; id++ {
		// "night" in most titles, once or twice, in titles of one to six words; "day" in about half.
		words := []string{"night"}
		if r.IntN(3) == 0 {
			words = append(words, "night")
		}
		if r.IntN(2) == 0 {
			words = append(words, "day")
		}
		for range r.IntN(4) {
			words = append(words, "quokka")
		}
		for k := range 8 {
			if r.IntN(2) == 0 {
				words = append(words, "w"+strconv.Itoa(k))
			}
		}
		if r.IntN(10) == 0 {
			words = []string{"dawn"}
		}
		changes = append(changes, Change{ID: id, Version: 1, Movie: &search.Movie{ID: id, Title: strings.Join(words, " ")}})
	}
	if _, err := x.Apply(context.Background(), changes, uint64(n)); err != nil {
		t.Fatal(err)
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()

	for _, word := range []string{"night", "day"} {
		pls, raws, err := s.postings(fieldTitle, word)
		if err != nil {
			t.Fatal(err)
		}
		for i, pl := range pls {
			if pl == nil {
				continue
			}
			dp, err := decodePostings(pl)
			if err != nil || dp == nil {
				t.Fatalf("decode %s: %v, %v", word, dp, err)
			}
			it := pl.Iterator(true, true, false, nil)
			for k := 0; ; k++ {
				p, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				if p == nil {
					if k != len(dp.docs) {
						t.Fatalf("%s: zap has %d postings, decoded %d", word, k, len(dp.docs))
					}
					break
				}
				if uint64(dp.docs[k]) != p.Number() || uint64(dp.freqs[k]) != p.Frequency() || float64(dp.norms[k]) != p.Norm() {
					t.Fatalf("%s posting %d: decoded (%d, %d, %v), zap (%d, %d, %v)", word, k, dp.docs[k], dp.freqs[k], dp.norms[k], p.Number(), p.Frequency(), p.Norm())
				}
			}

			// Candidates: a random part of the list; the cursor and zap's iterator narrowed to them agree at
			// every step, by next and by advance.
			cands := roaring.New()
			for _, d := range dp.docs {
				if r.IntN(5) == 0 {
					cands.Add(d)
				}
			}
			narrowed := roaring.And(raws[i], cands)
			c := &postingCursor{dec: dp, in: narrowed.Iterator()}
			z := &postingCursor{it: pl.Iterator(true, true, false, nil)}
			z.it.(interface{ ReplaceActual(*roaring.Bitmap) }).ReplaceActual(narrowed.Clone())
			for step := 0; ; step++ {
				var errC, errZ error
				if step%3 == 2 {
					target := c.num + uint64(r.IntN(200))
					errC, errZ = c.advance(target), z.advance(target)
				} else {
					errC, errZ = c.next(), z.next()
				}
				if errC != nil || errZ != nil {
					t.Fatal(errC, errZ)
				}
				if c.num != z.num {
					t.Fatalf("%s step %d: cursor at %d, zap at %d", word, step, c.num, z.num)
				}
				if c.num == math.MaxUint64 {
					break
				}
				if c.tfNorm() != z.tfNorm() {
					t.Fatalf("%s doc %d: tf × norm %v, zap %v", word, c.num, c.tfNorm(), z.tfNorm())
				}
			}
		}
	}

	// The cache: lists below minDecoded are not kept; past the budget the least recently used goes.
	key := func(w string) postingsKey { return postingsKey{s.segs[0].cache, fieldTitle, w} }
	list := func(w string) segment.PostingsList {
		pls, _, err := s.postings(fieldTitle, w)
		if err != nil || pls[0] == nil {
			t.Fatalf("postings of %s: %v", w, err)
		}
		return pls[0]
	}
	cache := newPostingsCache(1 << 30)
	for range 2 {
		if dp, err := cache.get(key("dawn"), list("dawn")); dp != nil || err != nil {
			t.Errorf("a list of %d postings was decoded (%v)", list("dawn").Count(), err)
		}
	}
	// A list is decoded the second time it is asked for.
	for i, want := range []bool{false, true, true} {
		if dp, err := cache.get(key("night"), list("night")); (dp != nil) != want || err != nil {
			t.Errorf("ask %d: decoded %v (%v), want %v", i+1, dp != nil, err, want)
		}
	}
	// get asks until the list is decoded.
	get := func(key postingsKey, pl segment.PostingsList) (*decodedPostings, error) {
		if dp, err := cache.get(key, pl); dp != nil || err != nil {
			return dp, err
		}
		return cache.get(key, pl)
	}
	largest := uint64(0)
	for k := range 8 {
		largest = max(largest, list("w"+strconv.Itoa(k)).Count())
	}
	cache = newPostingsCache(int64(largest) * 10 * 4) // any list fits (a quarter at most), four or five at once
	for k := range 8 {
		for _, w := range []string{"w" + strconv.Itoa(k), "w0"} { // w0 used after every other
			if dp, err := get(key(w), list(w)); dp == nil || err != nil {
				t.Fatalf("%s not decoded: %v", w, err)
			}
			if cache.bytes > cache.budget {
				t.Fatalf("cache holds %d bytes, budget %d", cache.bytes, cache.budget)
			}
		}
	}
	if _, ok := cache.byKey[key("w0")]; !ok {
		t.Error("the list used most recently was dropped")
	}
	if _, ok := cache.byKey[key("w1")]; ok {
		t.Error("the list used least recently was kept beyond the budget")
	}
	if _, ok := cache.byKey[key("w7")]; !ok {
		t.Error("the list decoded last was dropped")
	}

	// A segment that a merge replaced takes its lists along.
	other := postingsKey{&segmentCache{}, fieldTitle, "w3"}
	if _, err := get(other, list("w3")); err != nil {
		t.Fatal(err)
	}
	if dp, err := cache.get(key("quokka"), list("quokka")); dp != nil || err != nil { // asked once: remembered
		t.Fatalf("quokka decoded on its first ask (%v)", err)
	}
	cache.dropSegment(s.segs[0].cache)
	if len(cache.byKey) != 1 || cache.lru.Len() != 1 || cache.bytes != int64(list("w3").Count())*10 {
		t.Errorf("after dropping a segment: %d lists (%d in the LRU order), %d bytes; want the other segment's one", len(cache.byKey), cache.lru.Len(), cache.bytes)
	}
	for k := range cache.asked {
		if k.seg == s.segs[0].cache {
			t.Errorf("after dropping its segment, %s is remembered as asked for", k.term)
		}
	}
}
