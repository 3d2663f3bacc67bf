package searchindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// A Transcript is what one shard's search asked its peers, with every shard's own answer to each question,
// its own included. The shards of one merged search plan it alike, so each would put the same questions to
// its peers: N shards, N×(N−1) conversations a question. Instead the gateway lets one shard search first,
// recording, and hands its transcript to the others, who answer their questions from it (every shard's
// answer but their own, joined) and ask their peers only what it lacks: N−1 conversations a question.
//
// A transcript is the answers of the moment it was recorded, as a shard's answers are when it is asked
// live; it is good for the one search it was recorded for.
type Transcript struct {
	replaying bool
	mu        sync.Mutex
	recorded  map[string][]json.RawMessage // recording: by questionKey, each shard's answer, encoded when given
	answers   map[string][]PeerAnswer      // replaying: by questionKey, each shard's answer
	order     []string                     // recording: the questions in the order first asked
	bytes     int                          // recording: the answers' bytes
	asked     int                          // questions put to the peers
	replayed  int                          // questions answered from the transcript
}

// RecordPeers is an empty transcript that records the questions of the search it is given to.
func RecordPeers() *Transcript { return &Transcript{recorded: map[string][]json.RawMessage{}} }

// Bounds of a transcript: a shard's search asks a few dozen questions, whose answers are tens of kilobytes
// (at most 180 KB on 150k movies). A search that asks more records no more: the other shards ask the rest
// themselves.
const (
	maxTranscriptQuestions = 4096
	maxTranscriptBytes     = 8 << 20 // below what a shard reads (shardwire.MaxTranscript)
)

// transcriptWire is a transcript in JSON: A is the answers' type, encoded or read.
type transcriptWire[A any] struct {
	Questions []recordedQuestion[A] `json:"questions"`
}

type recordedQuestion[A any] struct {
	Question string `json:"question"` // as questionKey encodes it
	Answers  []A    `json:"answers"`  // each shard's, its Contents set
}

// ReplayPeers is the transcript b encodes (Transcript.MarshalJSON), to answer a search's questions from.
func ReplayPeers(b []byte) (*Transcript, error) {
	var w transcriptWire[PeerAnswer]
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("read a transcript: %w", err)
	}
	if len(w.Questions) > maxTranscriptQuestions {
		return nil, errors.New("read a transcript: too many questions")
	}
	t := &Transcript{replaying: true, answers: make(map[string][]PeerAnswer, len(w.Questions))}
	for _, r := range w.Questions {
		seen := map[string]bool{}
		for _, a := range r.Answers {
			if a.Contents == "" || seen[a.Contents] {
				return nil, fmt.Errorf("read a transcript: the answers to %s are not each of one shard", r.Question)
			}
			seen[a.Contents] = true
		}
		t.answers[r.Question] = r.Answers
	}
	return t, nil
}

// MarshalJSON encodes the transcript for ReplayPeers.
func (t *Transcript) MarshalJSON() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := transcriptWire[json.RawMessage]{Questions: make([]recordedQuestion[json.RawMessage], 0, len(t.order))}
	for _, k := range t.order {
		w.Questions = append(w.Questions, recordedQuestion[json.RawMessage]{Question: k, Answers: t.recorded[k]})
	}
	return json.Marshal(w)
}

// Len is the questions a transcript being recorded holds.
func (t *Transcript) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.order)
}

// Asked is the questions the search put to its peers, Replayed those it answered from the transcript.
func (t *Transcript) Asked() (asked, replayed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.asked, t.replayed
}

type transcriptKey struct{}

// WithTranscript is ctx for a search that records its peers' answers into t, or answers from it (ReplayPeers).
func WithTranscript(ctx context.Context, t *Transcript) context.Context {
	return context.WithValue(ctx, transcriptKey{}, t)
}

func transcriptOf(ctx context.Context) *Transcript {
	t, _ := ctx.Value(transcriptKey{}).(*Transcript)
	return t
}

// questionKey names a question: alike for alike questions, in every shard.
func questionKey(q PeerQuestion) (string, error) {
	b, err := json.Marshal(q)
	if err != nil {
		return "", err
	}
	if q.Query == nil {
		return string(b), nil
	}
	qb, err := json.Marshal(q.Query)
	if err != nil {
		return "", err
	}
	return string(b) + " " + string(qb), nil
}

// replay answers key for the shard that holds own: every other shard's answer, joined. False if the
// transcript does not hold the question, or no answer of own's (it is another catalog's).
func (t *Transcript) replay(key, own string) (PeerAnswer, bool) { return t.joined(key, own, false) }

// whole is every shard's answer to key joined, own's included; false as replay.
func (t *Transcript) whole(key, own string) (PeerAnswer, bool) { return t.joined(key, own, true) }

func (t *Transcript) joined(key, own string, withOwn bool) (PeerAnswer, bool) {
	if t == nil || !t.replaying || own == "" {
		return PeerAnswer{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	answers, ok := t.answers[key]
	if !ok || !slices.ContainsFunc(answers, func(a PeerAnswer) bool { return a.Contents == own }) {
		return PeerAnswer{}, false
	}
	var all PeerAnswer
	for _, a := range answers {
		if withOwn || a.Contents != own {
			all.Join(a)
		}
	}
	t.replayed++
	return all, true
}

// count notes n questions put to the peers (t may be nil).
func (t *Transcript) count(n int) {
	if t != nil {
		t.mu.Lock()
		t.asked += n
		t.mu.Unlock()
	}
}

// record keeps the answers to key of the shard own (its own) and of its peers, encoded at once: the
// search goes on to change what it was given (its own words and counts, joined with its peers').
func (t *Transcript) record(key string, own PeerAnswer, peers []PeerAnswer) error {
	t.mu.Lock()
	keep := !t.replaying && own.Contents != "" && len(t.order) < maxTranscriptQuestions && t.recorded[key] == nil
	t.mu.Unlock()
	if !keep {
		return nil
	}
	encoded := make([]json.RawMessage, 0, 1+len(peers))
	size := len(key)
	for _, a := range append([]PeerAnswer{own}, peers...) {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("record an answer: %w", err)
		}
		encoded = append(encoded, b)
		size += len(b)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.recorded[key] == nil && len(t.order) < maxTranscriptQuestions && t.bytes+size <= maxTranscriptBytes {
		t.recorded[key] = encoded
		t.order = append(t.order, key)
		t.bytes += size
	}
	return nil
}

// recording reports whether t records the answers of the search it is given to.
func (t *Transcript) recording() bool { return t != nil && !t.replaying }
