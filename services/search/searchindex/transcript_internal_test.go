package searchindex

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

// A transcript answers each shard with every other shard's answer, never its own, and only questions it
// holds the answers of that shard and its peers to.
func TestTranscriptAnswersEveryShardButTheAsker(t *testing.T) {
	rec := RecordPeers()
	q := PeerQuestion{Op: AskPrefixCounts, Field: "title", Word: "sta"}
	key, err := questionKey(q)
	if err != nil {
		t.Fatal(err)
	}
	a := PeerAnswer{Contents: "a", N: 1, Counts: map[string]uint64{"star": 1}}
	b := PeerAnswer{Contents: "b", N: 10, Counts: map[string]uint64{"star": 10, "stay": 10}}
	c := PeerAnswer{Contents: "c", N: 100, Counts: map[string]uint64{"stag": 100}}
	for range 2 { // asked twice in a search: kept once
		if err := rec.record(key, a, []PeerAnswer{b, c}); err != nil {
			t.Fatal(err)
		}
	}
	a.Counts["star"] = 1000 // the search goes on to change its own answer: recorded as it was given
	if rec.Len() != 1 {
		t.Fatalf("%d questions recorded, want 1", rec.Len())
	}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := ReplayPeers(body)
	if err != nil {
		t.Fatal(err)
	}
	for own, want := range map[string]PeerAnswer{
		"b": {N: 101, Counts: map[string]uint64{"star": 1, "stag": 100}},
		"c": {N: 11, Counts: map[string]uint64{"star": 11, "stay": 10}},
	} {
		got, ok := replay.replay(key, own)
		if !ok || got.N != want.N || !maps.Equal(got.Counts, want.Counts) {
			t.Errorf("shard %s: %+v %v, want %+v", own, got, ok, want)
		}
	}
	if got, ok := replay.whole(key, "b"); !ok || got.N != 111 || got.Counts["star"] != 11 {
		t.Errorf("the whole catalog's answer: %+v %v, want 111 movies", got, ok)
	}
	if _, ok := replay.replay(key, "d"); ok {
		t.Error("a shard whose answer the transcript lacks (another catalog's) was answered from it")
	}
	other, _ := questionKey(PeerQuestion{Op: AskPrefixCounts, Field: "title", Word: "stb"})
	if _, ok := replay.replay(other, "b"); ok {
		t.Error("a question the transcript lacks was answered")
	}
	if _, ok := rec.replay(key, "b"); ok {
		t.Error("a transcript being recorded answered a question")
	}
	huge := PeerAnswer{Contents: "a", Words: []string{strings.Repeat("x", maxTranscriptBytes)}}
	if err := rec.record("a huge answer", huge, []PeerAnswer{b, c}); err != nil || rec.Len() != 1 {
		t.Errorf("an answer past the transcript's bound: %v, %d questions recorded, want it left to the others to ask", err, rec.Len())
	}
	if _, replayed := replay.Asked(); replayed != 3 {
		t.Errorf("replayed %d, want 3", replayed)
	}
	for _, bad := range []string{
		`{"questions":[{"question":"x","answers":[{"contents":"a"},{"contents":"a"}]}]}`,
		`{"questions":[{"question":"x","answers":[{"n":1}]}]}`,
		`{"questions":5}`,
	} {
		if _, err := ReplayPeers([]byte(bad)); err == nil {
			t.Errorf("%s: read", bad)
		}
	}
}

// roundPeers is one peer of contents "p", asked in round trips of one or several questions; it answers a
// question by the length of its word.
type roundPeers struct{ rounds [][]PeerOp }

func (r *roundPeers) Ask(ctx context.Context, q PeerQuestion) ([]PeerAnswer, error) {
	a, err := r.AskEach(ctx, []PeerQuestion{q})
	return a[0], err
}

func (r *roundPeers) AskEach(_ context.Context, qs []PeerQuestion) ([][]PeerAnswer, error) {
	var ops []PeerOp
	answers := make([][]PeerAnswer, len(qs))
	for i, q := range qs {
		ops = append(ops, q.Op)
		answers[i] = []PeerAnswer{{Contents: "p", N: uint64(len(q.Word))}}
	}
	r.rounds = append(r.rounds, ops)
	return answers, nil
}

// A search asks its peers ahead, at once, what it will ask them one by one; a question asked again is not
// asked again; questions it is likely to ask go with its next one; each is recorded in its transcript,
// with the search's own answer, only when the search asks it; a search replaying a transcript asks ahead
// of nothing.
func TestSearchAsksItsPeersAheadInOneRoundTrip(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true, Contents: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	peers := &roundPeers{}
	if err := x.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	rec := RecordPeers()
	ctx := withPeerMemo(WithTranscript(context.Background(), rec))
	word := func(w string) PeerQuestion { return PeerQuestion{Op: AskDocFreq, Word: w} }
	own := func() PeerAnswer { return PeerAnswer{N: 1000} }
	if err := x.prefetch(ctx, word("ab"), word("abc"), word("ab")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"abc", "ab", "abc"} {
		if a, _, err := x.ask(ctx, word(w), own); err != nil || a.N != uint64(len(w)) {
			t.Fatalf("%s: %+v, %v; want the peer's answer, %d", w, a, err, len(w))
		}
	}
	if err := x.alsoAsk(ctx, word("abcd"), word("ab")); err != nil {
		t.Fatal(err)
	}
	if a, _, err := x.ask(ctx, word("a"), own); err != nil || a.N != 1 {
		t.Fatalf("a: %+v, %v", a, err)
	}
	if a, _, err := x.ask(ctx, word("abcd"), own); err != nil || a.N != 4 {
		t.Fatalf("abcd: %+v, %v", a, err)
	}
	if len(peers.rounds) != 2 || len(peers.rounds[0]) != 2 || len(peers.rounds[1]) != 2 {
		t.Errorf("round trips %v, want two: the two words asked ahead; the next question with the one to go with it", peers.rounds)
	}
	if asked, _ := rec.Asked(); asked != 4 || rec.Len() != 4 {
		t.Errorf("asked %d, recorded %d; want 4 and 4 (ab, abc, a, abcd)", asked, rec.Len())
	}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := ReplayPeers(body)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := questionKey(word("abc"))
	if got, ok := replay.whole(key, "p"); !ok || got.N != 1003 {
		t.Errorf("the recorded answers to abc: %+v %v; want the search's own (1000) and the peer's (3)", got, ok)
	}
	// The first shard asked: a shard replaying its transcript asks ahead of nothing.
	peers.rounds = nil
	rctx := withPeerMemo(WithTranscript(context.Background(), replay))
	if err := x.prefetch(rctx, word("ab"), word("zzz")); err != nil || len(peers.rounds) != 0 {
		t.Errorf("a replaying search asked ahead: %v, round trips %v", err, peers.rounds)
	}
}
