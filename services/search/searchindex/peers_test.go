package searchindex_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestShardsRankAsOneIndex splits a catalog into three indexes by the stream's partitions, each with the
// other two as its peers, and requires of every query what one index of every movie answers: the shards'
// totals add up to its total, their first pages merged by tier, score and id are its first page (the same
// movies in the same order, with the same scores and match kinds), and each says its did-you-mean. It runs
// the judged queries on the TMDB-like catalog and generated queries of every class on a synthetic one.
//
// Under the race detector (make unit) it runs a small synthetic catalog only, for the shards' concurrent
// questions; make norace runs it whole.
func TestShardsRankAsOneIndex(t *testing.T) {
	t.Run("judged", func(t *testing.T) {
		if raceEnabled {
			t.Skip("the judged queries run without the race detector (make norace)")
		}
		moviesPath, judgments := testenv.SharedData(t, "movies.jsonl.gz"), testenv.SharedData(t, "judgments-dev.tsv")
		for _, p := range []string{moviesPath, judgments} {
			if _, err := os.Stat(p); err != nil {
				t.Skipf("shared data %s missing", p)
			}
		}
		var movies []search.Movie
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		err := ingest.ReadFile(moviesPath, func(rec ingest.Record) error {
			if rec.Err == nil && rec.Movie.TMDBID != nil && *rec.Movie.TMDBID > 0 {
				m := rec.Movie
				m.FillLists()
				m.ID, m.Version, m.CreatedAt, m.UpdatedAt = *m.TMDBID, 1, at, at
				movies = append(movies, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var qs []search.Query
		for _, text := range judgedQueries(t, judgments) {
			qs = append(qs, search.Query{Text: text, PerPage: 10})
		}
		compareShards(t, movies, qs)
	})
	t.Run("generated", func(t *testing.T) {
		docs, perClass := execDocs(), max(20, execQueriesPerClass()/5)
		if raceEnabled {
			docs, perClass = 3000, 3
		}
		movies := synthMovies(loadVocab(t), docs, 42)
		compareShards(t, movies, generatedQueries(movies, perClass))
	})
}

// compareShards indexes movies whole and split three ways, and compares the answers to qs (first pages
// ranked by relevance). Each index is itself split into testShards shards in one process, as make unit's
// second run splits every index: shards of both kinds together rank as one index too.
func compareShards(t *testing.T, movies []search.Movie, qs []search.Query) {
	t.Helper()
	stream := events.Stream{Partitions: 3}
	parts := make([][]search.Movie, stream.Partitions)
	for _, m := range movies {
		p := stream.Partition(m.ID)
		parts[p] = append(parts[p], m)
	}
	whole := applySynthWith(t, t.TempDir(), movies, searchindex.Options{Scratch: true})
	shards := make([]*searchindex.Index, len(parts))
	for i, part := range parts {
		shards[i] = applySynthWith(t, t.TempDir(), part, searchindex.Options{Scratch: true, Contents: fmt.Sprintf("partition %d", i)})
	}
	asked := &countingPeers{ops: map[searchindex.PeerOp]int{}}
	for i, x := range shards {
		asked.peers = append(asked.peers, searchindex.IndexPeers(slices.Delete(slices.Clone(shards), i, i+1)...))
		if err := x.SetPeers(peerOf{asked, i}); err != nil {
			t.Fatal(err)
		}
	}
	compared, sorted := 0, 0
	var sizes []int                              // the transcripts' bytes
	transcribed, answered, unanswered := 0, 0, 0 // questions the first shard asked; the others answered from its transcript, and asked
	recorded := 0                                // questions the first shard's transcript holds: those its search asked of the ones it put to its peers
	for n, q := range qs {
		if len(q.Sort) > 0 || q.Cursor != "" || q.Page > 1 || q.Text == "" {
			continue // from the first page: what shards answer as one index
		}
		q.Facets, q.Merge = nil, true
		variants := []search.Query{q}
		if n%2 == 0 {
			// Sorted by year, the movies of a year by relevance: Bleve's scores, which the shards take over the
			// catalog's words too.
			byYear := q
			byYear.Sort = []search.SortKey{{Field: search.SortYear, Desc: true}}
			variants = append(variants, byYear)
		}
		for _, q := range variants {
			want, err := whole.Search(context.Background(), q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			// As the gateway asks: one shard first, each in turn, recording what it asks its peers; then the
			// others, answering their questions from its transcript.
			got := &search.Result{}
			first := compared % len(shards)
			var transcript []byte
			for k := range shards {
				i := (first + k) % len(shards)
				x := shards[i]
				tr := searchindex.RecordPeers()
				if k > 0 {
					if tr, err = searchindex.ReplayPeers(transcript); err != nil {
						t.Fatal(err)
					}
				}
				res, err := x.Search(searchindex.WithTranscript(context.Background(), tr), q)
				if err != nil {
					t.Fatalf("shard %d: %+v: %v", i, q, err)
				}
				n, replayed := tr.Asked()
				if k == 0 {
					if transcript, err = json.Marshal(tr); err != nil {
						t.Fatal(err)
					}
					transcribed += n
					recorded += tr.Len()
					sizes = append(sizes, len(transcript))
				} else {
					unanswered += n
					answered += replayed
				}
				if res.DidYouMean != want.DidYouMean {
					t.Errorf("q=%q: shard %d: did you mean %q, one index %q", q.Text, i, res.DidYouMean, want.DidYouMean)
				}
				got.Total += res.Total
				got.Hits = append(got.Hits, res.Hits...)
			}
			slices.SortStableFunc(got.Hits, func(a, b search.Hit) int { return bytes.Compare(a.Merge.Key, b.Merge.Key) })
			got.Hits = got.Hits[:min(len(got.Hits), len(want.Hits))]
			got.DidYouMean, got.Facets, got.NextCursor = want.DidYouMean, want.Facets, want.NextCursor
			diff := answerDiff(got, want)
			if len(q.Sort) > 0 && diff == "" {
				diff = sameOrder(got, want) // by year, then score: no tie of scores left to either order
			}
			if diff != "" {
				t.Errorf("q=%q sort=%v genres=%v year=%v: three shards: %s", q.Text, q.Sort, q.Genres, q.Year, diff)
				if t.Failed() && compared > 20 {
					t.FailNow()
				}
			}
			for k := range want.Hits {
				if k < len(got.Hits) && got.Hits[k].Tier != want.Hits[k].Tier {
					t.Errorf("q=%q: hit %d (movie %d) in tier %d on the shards, %d on one index", q.Text, k, want.Hits[k].Movie.ID, got.Hits[k].Tier, want.Hits[k].Tier)
					break
				}
			}
			compared++
			if len(q.Sort) > 0 {
				sorted++
			}
		}
	}
	if compared-sorted < len(qs)/2 || sorted < len(qs)/5 {
		t.Fatalf("%d of %d queries compared, %d of them sorted", compared, len(qs), sorted)
	}
	slices.Sort(sizes)
	t.Logf("%d queries (%d sorted by year): three shards answered as one index; a search asked the peers %.1f questions in %.1f round trips (%v); the first shard asked %d, the others answered %d from its transcript and asked %d; transcripts of %d bytes (median), %d (largest)",
		compared, sorted, float64(asked.total())/float64(compared), float64(asked.rounds)/float64(compared), asked.ops, transcribed, answered, unanswered, sizes[len(sizes)/2], sizes[len(sizes)-1])
	// A search asks ahead, at once, what it will ask one question at a time (Index.prefetch, alsoAsk), and
	// little it then does not ask.
	t.Logf("of the questions the first shard put to its peers, %d of %d were not asked by its search", transcribed-recorded, transcribed)
	if 100*asked.rounds > 45*asked.total() {
		t.Errorf("a search asked its peers %d questions in %d round trips: it asks several at once where it knows them", asked.total(), asked.rounds)
	}
	if 10*(transcribed-recorded) > transcribed {
		t.Errorf("%d of the %d questions put to the peers were not asked by the search: a question asked ahead differs from the one asked", transcribed-recorded, transcribed)
	}
	if answered == 0 || unanswered > answered/10 {
		t.Errorf("the shards after the first answered %d questions from its transcript and asked %d: a transcript must answer nearly all", answered, unanswered)
	}
	compareSuggestions(t, whole, shards, qs)
}

// compareSuggestions requires of every shard, for what a user types on the way to the texts of qs (the
// whole text, it less its last two letters, its first three), the suggestions one index gives: the same
// titles and names, in the same order, with the same roles and scores.
func compareSuggestions(t *testing.T, whole *searchindex.Index, shards []*searchindex.Index, qs []search.Query) {
	t.Helper()
	seen := map[string]bool{}
	compared, nonEmpty := 0, 0
	for _, q := range qs {
		text := strings.Trim(q.Text, `"- `)
		for _, typed := range []string{text, text[:max(0, len(text)-2)], text[:min(3, len(text))]} {
			if len(strings.TrimSpace(typed)) < 2 || !utf8.ValidString(typed) || seen[typed] {
				continue
			}
			seen[typed] = true
			sq := search.SuggestQuery{Text: typed, Limit: 10}
			want, err := whole.Suggest(context.Background(), sq)
			if err != nil {
				t.Fatalf("suggest %q: %v", typed, err)
			}
			for i, x := range shards {
				got, err := x.Suggest(context.Background(), sq)
				if err != nil {
					t.Fatalf("suggest %q: shard %d: %v", typed, i, err)
				}
				if !sameSuggestions(got, want) {
					t.Errorf("suggest %q: shard %d: %+v, one index %+v", typed, i, got, want)
				}
			}
			compared++
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	t.Logf("%d suggestions compared, %d of them not empty", compared, nonEmpty)
	if nonEmpty < compared/2 {
		t.Errorf("only %d of %d suggestions compared suggest anything", nonEmpty, compared)
	}
}

// sameOrder says how the order of got's hits differs from want's ("": it does not). Two movies whose scores
// tie within the last bits of a sum (whose order of terms Bleve's disjunctions do not fix) may swap.
func sameOrder(got, want *search.Result) string {
	for k := range want.Hits {
		g, w := got.Hits[k], want.Hits[k]
		if g.Movie.ID != w.Movie.ID && !sameScore(g.Score, w.Score) {
			return fmt.Sprintf("hit %d: movie %d (score %v), want movie %d (score %v)", k, g.Movie.ID, g.Score, w.Movie.ID, w.Score)
		}
	}
	return ""
}

// sameSuggestions reports whether got are want: the same titles and names in the same order, with the same
// roles, and scores equal but for the last bits of a sum; two whose scores tie so may swap.
func sameSuggestions(got, want []search.Suggestion) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g := got[k]
		if !sameScore(g.Score, w.Score) {
			return false
		}
		g.Score = w.Score
		if !reflect.DeepEqual(g, w) && (k == 0 || !sameScore(want[k-1].Score, w.Score)) && (k == len(want)-1 || !sameScore(want[k+1].Score, w.Score)) {
			return false
		}
	}
	return true
}

// countingPeers counts the questions the shards ask, by kind.
type countingPeers struct {
	mu     sync.Mutex
	ops    map[searchindex.PeerOp]int
	rounds int                 // round trips: a question, or several at once
	peers  []searchindex.Peers // shard i's
}

func (c *countingPeers) total() (n int) {
	for _, k := range c.ops {
		n += k
	}
	return n
}

// peerOf is shard i's peers, counted.
type peerOf struct {
	c *countingPeers
	i int
}

func (p peerOf) AskEach(ctx context.Context, qs []searchindex.PeerQuestion) ([][]searchindex.PeerAnswer, error) {
	p.c.mu.Lock()
	p.c.rounds++
	for _, q := range qs {
		p.c.ops[q.Op]++
	}
	p.c.mu.Unlock()
	return p.c.peers[p.i].(searchindex.EachAsker).AskEach(ctx, qs)
}

func (p peerOf) Ask(ctx context.Context, q searchindex.PeerQuestion) ([]searchindex.PeerAnswer, error) {
	p.c.mu.Lock()
	p.c.ops[q.Op]++
	p.c.rounds++
	p.c.mu.Unlock()
	return p.c.peers[p.i].Ask(ctx, q)
}

// A search that waits for its peers leaves its search slot meanwhile: with one slot, a second search runs to
// its end while the first still waits, and the first then finishes.
func TestSearchWaitingForPeersLeavesItsSlot(t *testing.T) {
	movies := synthMovies(loadVocab(t), 200, 7)
	x := applySynthWith(t, t.TempDir(), movies, searchindex.Options{Scratch: true, SearchConcurrency: 1})
	peers := &gatedPeers{gate: make(chan struct{}), asked: make(chan struct{}, 1)}
	if err := x.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := x.Search(context.Background(), search.Query{Text: movies[0].Title, PerPage: 10})
		first <- err
	}()
	<-peers.asked
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := x.Search(ctx, search.Query{Text: movies[1].Title, PerPage: 10}); err != nil {
		t.Fatalf("a search while another waits for its peers, with one search slot: %v", err)
	}
	close(peers.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// The searches in progress, running or waiting for their peers, are bounded all the same: with one slot
// and a queue of one, a third search is refused at once while two wait for their peers.
func TestSearchesWaitingForPeersAreBounded(t *testing.T) {
	movies := synthMovies(loadVocab(t), 200, 8)
	x := applySynthWith(t, t.TempDir(), movies, searchindex.Options{Scratch: true, SearchConcurrency: 1, SearchQueue: 1})
	peers := &gatedPeers{gate: make(chan struct{}), asked: make(chan struct{}, 2), every: true}
	if err := x.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 2)
	for _, m := range movies[:2] {
		go func() {
			_, err := x.Search(context.Background(), search.Query{Text: m.Title, PerPage: 10})
			waiting <- err
		}()
		<-peers.asked
	}
	if _, err := x.Search(context.Background(), search.Query{Text: movies[2].Title, PerPage: 10}); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("a third search while two wait for their peers, with one slot and a queue of one: %v, want Unavailable at once", err)
	}
	close(peers.gate)
	for range 2 {
		if err := <-waiting; err != nil {
			t.Fatal(err)
		}
	}
}

// gatedPeers hold the first question (every question, with every) until gate closes, and answer the
// others at once: peers of no movie.
type gatedPeers struct {
	once  sync.Once
	gate  chan struct{}
	asked chan struct{}
	every bool
}

func (p *gatedPeers) Ask(ctx context.Context, q searchindex.PeerQuestion) ([]searchindex.PeerAnswer, error) {
	first := p.every
	p.once.Do(func() { first = true })
	if first {
		select {
		case p.asked <- struct{}{}:
		default: // told already: the gate is open
		}
		select {
		case <-p.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []searchindex.PeerAnswer{{Contents: "empty", Ns: make([]uint64, len(q.Terms))}}, nil
}

// A shard whose peer refuses the question of its best matches (a service of the release before, in a
// rolling deploy) suggests from its own movies rather than fail; a peer that fails otherwise fails it.
func TestSuggestionOfOwnMoviesWhenAPeerRefuses(t *testing.T) {
	movies := synthMovies(loadVocab(t), 400, 11)
	var mine, theirs []search.Movie
	for i, m := range movies {
		if i%2 == 0 {
			mine = append(mine, m)
		} else {
			theirs = append(theirs, m)
		}
	}
	x := applySynthWith(t, t.TempDir(), mine, searchindex.Options{Scratch: true, Contents: "partition 0"})
	peer := applySynthWith(t, t.TempDir(), theirs, searchindex.Options{Scratch: true, Contents: "partition 1"})
	own := map[int64]bool{}
	for _, m := range mine {
		own[m.ID] = true
	}
	for _, refusal := range []error{searchindex.ErrQuestionRefused, errors.New("peer down")} {
		if err := x.SetPeers(refusingPeers{searchindex.IndexPeers(peer), refusal}); err != nil {
			t.Fatal(err)
		}
		ss, err := x.Suggest(context.Background(), search.SuggestQuery{Text: mine[0].Title})
		if refusal != searchindex.ErrQuestionRefused {
			if err == nil {
				t.Errorf("a peer that fails: suggestions %v, want an error", ss)
			}
			continue
		}
		if err != nil || len(ss) == 0 {
			t.Fatalf("a peer that refuses: %v, %v", ss, err)
		}
		for _, s := range ss {
			if s.Kind == search.SuggestTitle && !own[s.ID] {
				t.Errorf("suggested movie %d, which the refusing peer holds", s.ID)
			}
		}
	}
}

// refusingPeers answer every question but the suggestion's pool, which they fail with err.
type refusingPeers struct {
	searchindex.Peers
	err error
}

func (p refusingPeers) Ask(ctx context.Context, q searchindex.PeerQuestion) ([]searchindex.PeerAnswer, error) {
	if q.Op == searchindex.AskSuggestPool {
		return nil, fmt.Errorf("asking: %w", p.err)
	}
	return p.Peers.Ask(ctx, q)
}
