package shards

import "net/http"

// suggest answers GET /v1/suggest from one shard, each in turn: a shard draws its suggestions from the best
// movies of the whole catalog, its own and its peers', weighed over the catalog's words, so that any
// shard's are the ones one index of every movie gives.
func (m *Merger) suggest(w http.ResponseWriter, r *http.Request) {
	m.shards[m.turn.Add(1)%uint64(len(m.shards))].ServeHTTP(w, r)
}
