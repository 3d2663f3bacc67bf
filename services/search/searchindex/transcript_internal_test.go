package searchindex

import (
	"encoding/json"
	"maps"
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
	if asked, _ := rec.Asked(); asked != 2 {
		t.Errorf("asked %d, want 2", asked)
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
