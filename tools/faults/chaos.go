package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// event is a change event as the catalog wrote it to its outbox: every version of every movie, including
// the ones the stream (which keeps only the last event per movie) has since replaced.
type event struct {
	movieID int64
	version int64
	msgID   string
	payload []byte
}

func readOutbox(ctx context.Context, db *sql.DB) ([]event, error) {
	rows, err := db.QueryContext(ctx, `SELECT movie_id, version, event_id, payload FROM outbox ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.movieID, &e.version, &e.msgID, &e.payload); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// chaosStats counts what the chaos publisher did.
type chaosStats struct {
	published  int // messages the stream took
	duplicates int // messages the stream dropped as duplicates of a message id it had seen
	errors     int
}

// chaos publishes old events again, straight to the stream's subjects, as a misbehaving relay or network
// would deliver them: each event 1-5 times, in shuffled order, with its own message id (which the server's
// duplicate window should drop), with a new random message id, or with none (both of which get through).
type chaos struct {
	js  jetstream.JetStream
	db  *sql.DB
	rng *rand.Rand
	st  chaosStats
}

func newChaos(js jetstream.JetStream, db *sql.DB) *chaos {
	return &chaos{js: js, db: db, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
}

// republish sends each of evs 1-5 times, all copies shuffled together.
func (ch *chaos) republish(ctx context.Context, evs []event) {
	var copies []event
	for _, e := range evs {
		for range 1 + ch.rng.IntN(5) {
			copies = append(copies, e)
		}
	}
	ch.rng.Shuffle(len(copies), func(i, j int) { copies[i], copies[j] = copies[j], copies[i] })
	for _, e := range copies {
		if ctx.Err() != nil {
			return
		}
		var opts []jetstream.PublishOpt
		switch ch.rng.IntN(3) {
		case 0:
			opts = append(opts, jetstream.WithMsgID(e.msgID))
		case 1:
			opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("chaos.%d.%d", e.movieID, ch.rng.Uint64())))
		}
		ch.publish(ctx, subjectOf(e.movieID), e.payload, opts...)
	}
}

func (ch *chaos) publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := ch.js.Publish(pctx, subject, data, opts...)
	switch {
	case err != nil:
		ch.st.errors++
	case ack.Duplicate:
		ch.st.duplicates++
	default:
		ch.st.published++
	}
}

// run republishes random old events every tick until ctx is done: a sample of the outbox, so that
// duplicates and reorderings hit movies while they are being written.
func (ch *chaos) run(ctx context.Context, tick time.Duration, perTick int) {
	var pool []event
	var poolAt time.Time
	for ctx.Err() == nil {
		sleepCtx(ctx, tick)
		if time.Since(poolAt) > time.Second {
			if evs, err := readOutbox(ctx, ch.db); err == nil {
				pool, poolAt = evs, time.Now()
			}
		}
		if len(pool) == 0 {
			continue
		}
		sample := make([]event, 0, perTick)
		for range perTick {
			sample = append(sample, pool[ch.rng.IntN(len(pool))])
		}
		ch.republish(ctx, sample)
	}
}

// malformedStats counts the malformed events sent, by kind.
type malformedStats struct {
	sent    int
	live    int // sent on the subject of a live movie
	refused int // the server refused them (too large)
	kinds   map[string]int
}

// malformed publishes n malformed events: undecodable, invalid or lying about their movie. Most go to the
// subjects of movies that do not exist; every tenth goes to a live movie's subject (livePick), which the
// stream then holds as that movie's last event.
func malformed(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, n int, livePick func() (int64, bool)) malformedStats {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	st := malformedStats{kinds: map[string]int{}}
	good := func(id, version int64) map[string]any {
		return map[string]any{"schema": 1, "type": "movie.upserted", "id": id, "version": version,
			"occurred_at": time.Now().UTC(), "movie": map[string]any{"id": id, "version": version, "title": "chaos"}}
	}
	enc := func(v any) []byte { b, _ := json.Marshal(v); return b }
	kinds := []struct {
		name string
		make func(id int64) []byte
	}{
		{"not-json", func(int64) []byte { return []byte("{not json") }},
		{"empty", func(int64) []byte { return nil }},
		{"json-array", func(int64) []byte { return []byte(`[1,2,3]`) }},
		{"missing-id", func(id int64) []byte { m := good(id, 5); delete(m, "id"); return enc(m) }},
		{"version-zero", func(id int64) []byte { return enc(good(id, 0)) }},
		{"version-negative", func(id int64) []byte { return enc(good(id, -3)) }},
		{"unknown-type", func(id int64) []byte { m := good(id, 9); m["type"] = "movie.exploded"; return enc(m) }},
		{"future-schema", func(id int64) []byte { m := good(id, 9); m["schema"] = 99; return enc(m) }},
		{"upsert-without-movie", func(id int64) []byte { m := good(id, 9); delete(m, "movie"); return enc(m) }},
		{"id-mismatch", func(id int64) []byte { return enc(good(id+1, 9)) }},
		{"invalid-utf8", func(id int64) []byte {
			return []byte(fmt.Sprintf(`{"schema":1,"type":"movie.upserted","id":%d,"version":9,"movie":{"id":%d,"version":9,"title":"bad \xff\xfe"}}`, id, id))
		}},
		{"deep-nesting", func(int64) []byte { return []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)) }},
		{"huge", func(id int64) []byte {
			m := good(id, 9)
			m["movie"].(map[string]any)["title"] = "" // invalid: a movie needs a title
			m["movie"].(map[string]any)["overview"] = strings.Repeat("x", 900<<10)
			return enc(m)
		}},
		{"wrong-field-types", func(id int64) []byte {
			return []byte(fmt.Sprintf(`{"schema":"1","type":1,"id":"%d","version":"nine"}`, id))
		}},
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		k := kinds[i%len(kinds)]
		id := int64(1_000_000_000 + rng.IntN(1_000_000))
		subject := subjectOf(id)
		if i%10 == 9 {
			if live, ok := livePick(); ok {
				id, subject = live, subjectOf(live)
				st.live++
			}
		}
		if i%len(kinds) == 0 && i%20 == 0 {
			subject = subjectPrefix + ".movie.not-a-number"
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.Publish(pctx, subject, k.make(id))
		cancel()
		if err != nil {
			st.refused++
			continue
		}
		st.sent++
		st.kinds[k.name]++
	}
	_ = nc.Flush()
	return st
}
