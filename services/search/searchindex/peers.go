package searchindex

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2/search/query"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/apperr"
)

// Peers are the other shards of a catalog split across indexes, each holding some of its movies (in a
// deployment, one partition of the stream each, in search services of their own). A search of one shard
// asks them what it must know of the whole catalog to rank as one index of every movie would: how many
// movies there are, how many have a word or match a query, which words their dictionaries hold, and the
// mean rating. Its own answer to a search ranked by relevance is then its part of the one index's: its
// hits, scored and tiered as that index scores and tiers them, and its total. Its facet counts add up over
// the shards where it counts every value of a facet; of people it counts its own top values.
//
// The shards of one search ask alike: a search given a Transcript (WithTranscript) records, or answers from
// one recorded by another shard's search of it, what the peers said.
//
// A sorted search (sort=relevance included) asks them for its tiers' sizes, the words of its expansions and
// the mean rating as well; Bleve scores it, reading the catalog's frequencies of its words (overCatalog).
// A suggestion is drawn from the best matches of every shard, each weighed so (AskSuggestPool).
type Peers interface {
	// Ask puts the question to every peer, each answering from its own index alone, and returns each
	// peer's answer, its Contents set.
	Ask(ctx context.Context, q PeerQuestion) ([]PeerAnswer, error)
}

// EachAsker is Peers that can put several questions to each peer at once, in one round trip: answers[i]
// are the peers' answers to qs[i], as Ask returns them. A search batches through it the questions it knows
// it will ask (Index.prefetch, alsoAsk); Peers without it are asked one question at a time.
type EachAsker interface {
	AskEach(ctx context.Context, qs []PeerQuestion) (answers [][]PeerAnswer, err error)
}

// MaxEach is the most questions put to a peer at once (and the most a peer answers in one request).
const MaxEach = 64

// PeerOp is what a PeerQuestion asks.
type PeerOp string

// The questions a shard asks its peers.
const (
	AskDocCount     PeerOp = "doc_count"     // N: the live movies
	AskCount        PeerOp = "count"         // N: the movies Query matches
	AskTermFreqs    PeerOp = "term_freqs"    // Ns: the live movies with each of Terms
	AskPrefixWords  PeerOp = "prefix_words"  // Words: Field's words that start with Word
	AskFuzzy        PeerOp = "fuzzy"         // Edits: Field's words within Fuzz edits of Word
	AskPrefixCounts PeerOp = "prefix_counts" // Counts: Field's words that start with Word, with their movies
	AskFuzzyPrefix  PeerOp = "fuzzy_prefix"  // Words: Field's words that start with a word within Fuzz edits of Word
	AskWordFields   PeerOp = "word_fields"   // Bits: the text fields that have Word
	// The batched questions: a peer that does not know them refuses them, never answers another question.
	AskFuzzyEveryField  PeerOp = "fuzzy_every_field"   // Edits and WordFields: every text field's words within Fuzz edits of Word
	AskPrefixCountsOf   PeerOp = "prefix_counts_of"    // FieldCounts: AskPrefixCounts of each of Fields
	AskWordFieldsOfEach PeerOp = "word_fields_of_each" // WordFields: AskWordFields of each of Words
	AskDocFreq          PeerOp = "doc_freq"            // N: the movies with Word, in each of Fields, added up
	AskHasPrefix        PeerOp = "has_prefix"          // Yes: a word of Fields starts with Word
	AskRatings          PeerOp = "ratings"             // Sum and N: the ratings that have votes
	AskSuggestPool      PeerOp = "suggest_pool"        // Pool: the best movies to complete Words (the last as Completions), weighed by Stats
)

// PeerQuestion is one question to the peers; which fields it uses depends on Op.
type PeerQuestion struct {
	Op     PeerOp      `json:"op"`
	Field  string      `json:"field,omitempty"`
	Fields []string    `json:"fields,omitempty"`
	Word   string      `json:"word,omitempty"`
	Fuzz   int         `json:"fuzz,omitempty"`
	Terms  []FieldWord `json:"terms,omitempty"`
	Words  []string    `json:"words,omitempty"`
	Stats  *PeerStats  `json:"stats,omitempty"`
	// Completions are, by field, the words the last of Words stands for.
	Completions map[string][]string `json:"completions,omitempty"`
	Query       query.Query         `json:"-"` // AskCount's; a transport carries it as Bleve's query JSON
}

// ErrQuestionRefused is what a Peers' error wraps when a peer refuses a question as one it does not know (a
// service of an older version) or as not sound.
var ErrQuestionRefused = errors.New("the peer refused the question")

// FieldWord is a word in a field.
type FieldWord struct {
	Field string `json:"field"`
	Word  string `json:"word"`
}

// PeerAnswer is the answer of one peer, or of them all joined.
type PeerAnswer struct {
	// Contents is what the answering index holds (Options.Contents: its partition), so that an asker can
	// tell that every other shard answered, each once.
	Contents string            `json:"contents,omitempty"`
	N        uint64            `json:"n,omitempty"`
	Ns       []uint64          `json:"ns,omitempty"` // one a question's term`
	Sum      float64           `json:"sum,omitempty"`
	Yes      bool              `json:"yes,omitempty"`
	Bits     uint64            `json:"bits,omitempty"`
	Words    []string          `json:"words,omitempty"`  // in dictionary order
	Counts   map[string]uint64 `json:"counts,omitempty"` // by word
	Edits    map[string]uint8  `json:"edits,omitempty"`  // by word
	// WordFields are, by word, the text fields that hold it (a bit per wordFieldNames).
	WordFields map[string]uint64 `json:"word_fields,omitempty"`
	// FieldCounts are Counts by field.
	FieldCounts map[string]map[string]uint64 `json:"field_counts,omitempty"`
	Pool        []PoolMovie                  `json:"pool,omitempty"` // best first
}

// JoinAnswers is the answers joined: the answer of the shards that gave them, as one.
func JoinAnswers(answers []PeerAnswer) PeerAnswer {
	var all PeerAnswer
	for _, a := range answers {
		all.Join(a)
	}
	return all
}

// Join adds b to a: numbers add up, words join.
func (a *PeerAnswer) Join(b PeerAnswer) {
	a.N += b.N
	if a.Ns == nil && b.Ns != nil {
		a.Ns = make([]uint64, len(b.Ns))
	}
	for i := range min(len(a.Ns), len(b.Ns)) {
		a.Ns[i] += b.Ns[i]
	}
	a.Sum += b.Sum
	a.Yes = a.Yes || b.Yes
	a.Bits |= b.Bits
	if len(b.Words) > 0 {
		a.Words = append(a.Words, b.Words...)
		slices.Sort(a.Words)
		a.Words = slices.Compact(a.Words)
	}
	for w, n := range b.Counts {
		if a.Counts == nil {
			a.Counts = map[string]uint64{}
		}
		a.Counts[w] += n
	}
	for w, d := range b.Edits {
		if a.Edits == nil {
			a.Edits = map[string]uint8{}
		}
		a.Edits[w] = d // a word's distance from the same word is the same in every shard
	}
	for f, counts := range b.FieldCounts {
		if a.FieldCounts == nil {
			a.FieldCounts = map[string]map[string]uint64{}
		}
		if a.FieldCounts[f] == nil {
			a.FieldCounts[f] = map[string]uint64{}
		}
		for w, n := range counts {
			a.FieldCounts[f][w] += n
		}
	}
	if len(b.Pool) > 0 {
		a.Pool = bestOf(append(a.Pool, b.Pool...), suggestPool)
	}
	for w, bits := range b.WordFields {
		if a.WordFields == nil {
			a.WordFields = map[string]uint64{}
		}
		a.WordFields[w] |= bits
	}
}

// SetPeers makes x one shard of a catalog whose other shards peers are; nil: x holds the whole catalog.
// A shard's answers are not cached: a peer's change changes them, and x's checkpoint does not say so. An
// index that scores with Bleve's own searchers (Options.BleveExecutor) weighs words by its own movies: it
// cannot be a shard.
func (x *Index) SetPeers(peers Peers) error {
	if peers != nil && x.opts.BleveExecutor {
		return errors.New("an index scored by Bleve's searchers cannot rank as a shard of a larger catalog")
	}
	if peers == nil {
		x.peers.Store(nil)
	} else {
		x.peers.Store(&peerBox{peers})
	}
	return nil
}

type peerBox struct{ Peers }

// peerSet is x's peers, nil if it has none.
func (x *Index) peerSet() Peers {
	if p := x.peers.Load(); p != nil {
		return p.Peers
	}
	return nil
}

// Bounds of a peer's question: what x's own searches ask stays far below them.
const (
	maxPeerWord  = 1024
	maxPeerTerms = 1 << 16
)

// Answer answers a peer's question from x's own movies alone (never asking x's own peers). The answers
// take slots of their own, as many as searches do, apart from the searches' (a search waits on its peers'
// answers, so sharing them could leave two shards each waiting on the other); a question that finds them
// all taken and many waiting is refused as busy.
func (x *Index) Answer(ctx context.Context, q PeerQuestion) (PeerAnswer, error) {
	if err := q.Check(); err != nil {
		return PeerAnswer{}, err
	}
	release, err := x.answering.enter(ctx)
	if err != nil {
		return PeerAnswer{}, err
	}
	defer release()
	a, err := x.answer(ctx, q)
	a.Contents = x.opts.Contents
	return a, err
}

// Check refuses a question no search of a shard asks: a bad one is the asker's fault (apperr.Invalid).
func (q PeerQuestion) Check() error {
	bad := func(why string) error { return apperr.Errorf(apperr.Invalid, "Question %q: %s.", q.Op, why) }
	if len(q.Word) > maxPeerWord || len(q.Terms) > maxPeerTerms || len(q.Words) > maxPeerTerms || len(q.Fields) > len(wordFieldNames) {
		return bad("too long")
	}
	for _, w := range q.Words {
		if len(w) > maxPeerWord {
			return bad("too long")
		}
	}
	switch q.Op {
	case AskDocCount, AskRatings, AskTermFreqs, AskFuzzy, AskWordFields, AskDocFreq, AskHasPrefix, AskFuzzyEveryField, AskWordFieldsOfEach:
	case AskCount:
		if q.Query == nil {
			return bad("no query")
		}
	case AskSuggestPool:
		if err := q.checkSuggestion(); err != nil {
			return bad(err.Error())
		}
	case AskPrefixWords, AskPrefixCounts, AskFuzzyPrefix, AskPrefixCountsOf:
		if q.Word == "" {
			return bad("no prefix") // every word of the field
		}
	default:
		return apperr.Errorf(apperr.Invalid, "Unknown question %q.", q.Op)
	}
	if q.Fuzz < 0 || q.Fuzz > 2 {
		return bad("fuzziness is 0 to 2")
	}
	return nil
}

// answer answers q from x's own movies.
func (x *Index) answer(ctx context.Context, q PeerQuestion) (PeerAnswer, error) {
	switch q.Op {
	case AskDocCount:
		n, err := x.bi.DocCount()
		return PeerAnswer{N: n}, err
	case AskCount:
		e := x.ownExecutor(ctx)
		defer e.close()
		n, err := x.countHere(ctx, e, q.Query)
		return PeerAnswer{N: n}, err
	case AskTermFreqs, AskPrefixWords:
		e := x.ownExecutor(ctx)
		defer e.close()
		if err := e.open(); err != nil {
			return PeerAnswer{}, err
		}
		var a PeerAnswer
		if q.Op == AskTermFreqs {
			a.Ns = make([]uint64, len(q.Terms))
		}
		for _, s := range e.shards {
			if q.Op == AskTermFreqs {
				for i, t := range q.Terms {
					tp, err := s.postings(t.Field, t.Word)
					if err != nil {
						return PeerAnswer{}, err
					}
					a.Ns[i] += tp.freq
				}
				continue
			}
			words, err := s.ownPrefixWords(q.Field, q.Word)
			if err != nil {
				return PeerAnswer{}, err
			}
			a.Join(PeerAnswer{Words: words})
		}
		return a, nil
	case AskRatings:
		sum, n := x.priors.ratings()
		return PeerAnswer{Sum: sum, N: n}, nil
	case AskSuggestPool:
		pool, err := x.suggestPool(ctx, weighedOver{q: x.suggestQuery(q.Words, q.Completions), stats: q.Stats.catalog()})
		return PeerAnswer{Pool: pool}, err
	}
	ir, err := x.ownReader()
	if err != nil {
		return PeerAnswer{}, err
	}
	defer ir.close()
	var a PeerAnswer
	switch q.Op {
	case AskFuzzy:
		a.Edits, err = ir.ownFuzzy(q.Field, q.Word, q.Fuzz)
	case AskFuzzyEveryField:
		a.Edits, a.WordFields, err = ir.ownFuzzyEveryField(q.Word, q.Fuzz)
	case AskPrefixCounts:
		a.Counts, err = ir.ownPrefixCounts(q.Field, q.Word)
	case AskPrefixCountsOf:
		a.FieldCounts = map[string]map[string]uint64{}
		for _, f := range q.Fields {
			if a.FieldCounts[f], err = ir.ownPrefixCounts(f, q.Word); err != nil {
				break
			}
		}
	case AskFuzzyPrefix:
		var seen map[string]bool
		seen, err = ir.ownFuzzyPrefix(q.Field, q.Word, q.Fuzz)
		a.Words = slices.Sorted(maps.Keys(seen))
	case AskWordFields:
		a.Bits, err = ir.ownWordFields(q.Word)
	case AskWordFieldsOfEach:
		a.WordFields = make(map[string]uint64, len(q.Words))
		for _, w := range q.Words {
			var f uint64
			if f, err = ir.ownWordFields(w); err != nil {
				break
			}
			if f != 0 {
				a.WordFields[w] = f
			}
		}
	case AskDocFreq:
		a.N, err = ir.ownDocFreq(q.Fields, q.Word)
	case AskHasPrefix:
		a.Yes = ir.ownHasPrefix(q.Fields, q.Word)
	default:
		err = fmt.Errorf("answer: unknown question %q", q.Op)
	}
	return a, err
}

// IndexPeers are peers in this process: indexes each holding some of the catalog's movies (tests, and a
// process that holds several shards apart).
func IndexPeers(xs ...*Index) Peers { return indexPeers(xs) }

type indexPeers []*Index

func (ps indexPeers) Ask(ctx context.Context, q PeerQuestion) ([]PeerAnswer, error) {
	answers, err := ps.AskEach(ctx, []PeerQuestion{q})
	if err != nil {
		return nil, err
	}
	return answers[0], nil
}

func (ps indexPeers) AskEach(ctx context.Context, qs []PeerQuestion) ([][]PeerAnswer, error) {
	answers := make([][]PeerAnswer, len(qs))
	for i := range answers {
		answers[i] = make([]PeerAnswer, len(ps))
	}
	g, gctx := errgroup.WithContext(ctx)
	for j, x := range ps {
		g.Go(func() error {
			for i, q := range qs {
				a, err := x.Answer(gctx, q)
				if apperr.Is(err, apperr.Invalid) {
					return fmt.Errorf("%w: %w", ErrQuestionRefused, err)
				}
				if err != nil {
					return err
				}
				answers[i][j] = a
			}
			return nil
		})
	}
	return answers, g.Wait()
}

// askAtOnce puts qs to peers at once if they can be asked so, else one question at a time.
func askAtOnce(ctx context.Context, peers Peers, qs []PeerQuestion) ([][]PeerAnswer, error) {
	if ea, ok := peers.(EachAsker); ok && len(qs) > 1 {
		answers, err := ea.AskEach(ctx, qs)
		if err == nil && len(answers) != len(qs) {
			err = fmt.Errorf("%d answers to %d questions", len(answers), len(qs))
		}
		return answers, err
	}
	answers := make([][]PeerAnswer, len(qs))
	for i, q := range qs {
		var err error
		if answers[i], err = peers.Ask(ctx, q); err != nil {
			return nil, err
		}
	}
	return answers, nil
}

// ask asks x's peers, if it has any: the zero answer, false, if not. A search given a transcript
// (WithTranscript) answers from it what it can, or records there every shard's answer: own gives x's own,
// which the search has found already (every question of a shard is about what its own movies hold too). A
// question the search asked before, or prefetched, is answered as then; the questions waiting to be asked
// (alsoAsk) go with it.
func (x *Index) ask(ctx context.Context, q PeerQuestion, own func() PeerAnswer) (PeerAnswer, bool, error) {
	peers := x.peerSet()
	if peers == nil {
		return PeerAnswer{}, false, nil
	}
	t, memo := transcriptOf(ctx), memoOf(ctx)
	var key string
	if t != nil || memo != nil {
		var err error
		if key, err = questionKey(q); err != nil {
			return PeerAnswer{}, true, fmt.Errorf("ask the other shards (%s): %w", q.Op, err)
		}
	}
	if a, ok := t.replay(key, x.opts.Contents); ok {
		return a, true, nil
	}
	answers, ok := memo.get(key)
	if !ok {
		asked, err := x.putToPeers(ctx, peers, memo, []asking{{key, q}})
		if err != nil {
			return PeerAnswer{}, true, fmt.Errorf("ask the other shards (%s): %w", q.Op, err)
		}
		answers = asked[0]
	}
	if t.recording() && x.opts.Contents != "" {
		mine := own()
		mine.Contents = x.opts.Contents
		if err := t.record(key, mine, answers); err != nil {
			return PeerAnswer{}, true, err
		}
	}
	return JoinAnswers(answers), true, nil
}

// prefetch asks x's peers now, at once, the questions of qs that the search will ask them (Index.ask)
// and has not asked yet, with those waiting (alsoAsk): one round trip to each peer instead of one a
// question. The answers wait in the search's memo (a search with peers has one), and each is recorded in its
// transcript when the search asks it.
func (x *Index) prefetch(ctx context.Context, qs ...PeerQuestion) error {
	peers, memo, ask, err := x.unasked(ctx, qs)
	if err != nil || len(ask) == 0 {
		return err
	}
	_, err = x.putToPeers(ctx, peers, memo, ask)
	return err
}

// alsoAsk has the questions of qs that the search has not asked yet go with its next question to the
// peers: what it is likely to ask, without a round trip of their own.
func (x *Index) alsoAsk(ctx context.Context, qs ...PeerQuestion) error {
	_, memo, ask, err := x.unasked(ctx, qs)
	memo.queue(ask)
	return err
}

// asking is a question about to be put to the peers, and its questionKey.
type asking struct {
	key string
	q   PeerQuestion
}

// holds reports whether qs hold the question of key.
func holds(qs []asking, key string) bool {
	return slices.ContainsFunc(qs, func(a asking) bool { return a.key == key })
}

// unasked is x's peers and the search's memo, and the questions of qs not asked yet. A search that
// answers from another shard's transcript asks ahead of nothing: the first shard asked, and what its
// transcript lacks (rare) is asked as it comes.
func (x *Index) unasked(ctx context.Context, qs []PeerQuestion) (Peers, *peerMemo, []asking, error) {
	peers, memo := x.peerSet(), memoOf(ctx)
	if t := transcriptOf(ctx); peers == nil || memo == nil || t != nil && t.replaying {
		return nil, nil, nil, nil
	}
	var ask []asking
	for _, q := range qs {
		key, err := questionKey(q)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ask the other shards (%s): %w", q.Op, err)
		}
		if _, ok := memo.get(key); !ok && !holds(ask, key) {
			ask = append(ask, asking{key, q})
		}
	}
	return peers, memo, ask, nil
}

// putToPeers puts qs to peers, with the questions waiting in memo (which may be nil), MaxEach at a time,
// the search's slot left meanwhile (see searchSlot); memo keeps the answers. It returns qs' answers.
func (x *Index) putToPeers(ctx context.Context, peers Peers, memo *peerMemo, qs []asking) ([][]PeerAnswer, error) {
	all := append(slices.Clone(qs), memo.take(qs)...)
	answers := make([][]PeerAnswer, 0, len(all))
	slot := slotOf(ctx)
	slot.leave()
	var err error
	for rest := all; len(rest) > 0 && err == nil; {
		n := min(len(rest), MaxEach)
		batch := make([]PeerQuestion, n)
		for i, a := range rest[:n] {
			batch[i] = a.q
		}
		rest = rest[n:]
		var got [][]PeerAnswer
		if got, err = askAtOnce(ctx, peers, batch); err == nil {
			answers = append(answers, got...)
		}
	}
	if back := slot.back(ctx); err == nil {
		err = back
	}
	if err != nil {
		return nil, err
	}
	transcriptOf(ctx).count(len(all))
	for i, a := range all {
		memo.put(a.key, answers[i])
	}
	return answers[:len(qs)], nil
}

// peerMemo is the peers' answers to one search's questions, by questionKey: a question asked again (the
// exact matches' count, by the tiers and by did-you-mean) or asked ahead is not asked again.
type peerMemo struct {
	mu      sync.Mutex
	answers map[string][]PeerAnswer
	later   []asking // to go with the next question asked (alsoAsk)
}

type peerMemoKey struct{}

// withPeerMemo is ctx for a search of a shard: with a memo of its peers' answers.
func withPeerMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, peerMemoKey{}, &peerMemo{answers: map[string][]PeerAnswer{}})
}

func memoOf(ctx context.Context) *peerMemo {
	m, _ := ctx.Value(peerMemoKey{}).(*peerMemo)
	return m
}

// get is the peers' answers to key (m may be nil). The caller must not change them: JoinAnswers copies.
func (m *peerMemo) get(key string) ([]PeerAnswer, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.answers[key]
	return a, ok
}

func (m *peerMemo) put(key string, answers []PeerAnswer) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answers[key] = answers
}

// queue keeps qs for the next question asked (m may be nil).
func (m *peerMemo) queue(qs []asking) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range qs {
		if !holds(m.later, q.key) {
			m.later = append(m.later, q)
		}
	}
}

// take empties the questions waiting, and returns those that are not among qs nor answered already.
func (m *peerMemo) take(qs []asking) []asking {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []asking
	for _, w := range m.later {
		if _, ok := m.answers[w.key]; !ok && !holds(qs, w.key) {
			out = append(out, w)
		}
	}
	m.later = nil
	return out
}

// transcribed is the whole catalog's answer to q, x's own included, where the search's transcript holds
// every shard's: x answered the search's first shard a moment ago, and need not count again.
func (x *Index) transcribed(ctx context.Context, q PeerQuestion) (PeerAnswer, bool) {
	t := transcriptOf(ctx)
	if t == nil || !t.replaying || x.peerSet() == nil {
		return PeerAnswer{}, false
	}
	key, err := questionKey(q)
	if err != nil {
		return PeerAnswer{}, false
	}
	return t.whole(key, x.opts.Contents)
}

// catalogDocs is the live movies of the whole catalog: x's, and its peers'.
func (x *Index) catalogDocs(ctx context.Context, e *executor) (uint64, error) {
	n, err := x.bi.DocCount()
	if err != nil {
		return 0, err
	}
	if peers, ok := e.peerDocCount(); ok {
		return n + peers, nil // the search's executor asked once
	}
	a, _, err := x.ask(ctx, PeerQuestion{Op: AskDocCount}, func() PeerAnswer { return PeerAnswer{N: n} })
	return n + a.N, err
}
