// Package shardwire is the internal contract between the search shards (services of one partition each)
// and the gateway that merges their answers into the answer of one index: a search the gateway asks with
// Header (and the deployment's internal token) is answered with Result beside the usual body.
package shardwire

import "encoding/json"

// Header marks a request as the gateway's, to be merged with other shards' answers; its value is "1". Only
// a request that also carries the internal token may set it: a page may then hold up to the search's
// window of hits, each with its position. The gateway removes it from every client request.
const Header = "Marquee-Merge"

// MaxWindow bounds page × per_page of a merged search: each shard answers every hit up to the page's end,
// in full, so page N costs every shard N pages. Deeper pages are asked with the cursor, whose pages cost
// one page a shard.
const MaxWindow = 1000

// Result is what a shard adds to a search answer for the merge, under the answer's "merge" key.
type Result struct {
	// Hits are the answer's hits' positions, one for each hit in order.
	Hits []Hit `json:"hits"`
	// Facets are, by name, how each value facet of the answer was counted.
	Facets map[string]Facet `json:"facets,omitempty"`
	// Transcript is, when the shard asked its peers what the whole catalog holds, the questions and every
	// shard's answers: the gateway sends it with the same search to the other shards (SearchRoute), which
	// then need not ask again. Opaque to the gateway.
	Transcript json.RawMessage `json:"transcript,omitempty"`
	// Asked is how many questions the shard put to its peers itself.
	Asked int `json:"asked,omitempty"`
}

// SearchRoute is where a shard answers a search to merge (as GET /v1/movies with Header, same query) given
// the Transcript of another shard's answer to it as the request's body (POST, the internal token required).
const SearchRoute = "/v1/index/search"

// MaxTranscript bounds a transcript's bytes.
const MaxTranscript = 32 << 20

// Hit is a hit's position in the search's order.
type Hit struct {
	// Key compares (bytes.Compare) as the hits of every shard of the search rank: the merged page is the
	// keys' order.
	Key []byte `json:"key"`
	// Cursor continues the search on this shard after the hit: a cursor as next_cursor is.
	Cursor string `json:"cursor"`
}

// Facet says how a value facet of a shard's answer was counted: its counts are the shard's own, unscaled,
// and its values may run deeper than a client's answer holds, so that the sums of every shard's are the
// whole catalog's.
type Facet struct {
	Size  int     `json:"size"`           // the values a client's answer holds: the merged facet's length
	More  bool    `json:"more,omitempty"` // the shard has values beyond those given (each counted no more than the last)
	Scale float64 `json:"scale"`          // the merged counts are the sums times Scale, rounded: more than 1 for a sample's
	// Counts are the counts of the values CountHeader asked for, unscaled.
	Counts map[string]int `json:"counts,omitempty"`
	// Terms order values of equal count where a facet is cut (by term, then value): a value's term, where it
	// is not the value itself. The facet shows the values it keeps by count, then value.
	Terms map[string]string `json:"terms,omitempty"`
}

// CountHeader asks, beside Header, for the counts of given values of value facets: a JSON object of facet
// names to values. The gateway asks a shard so for the values its facet left out, when their counts decide
// the merged facet.
const CountHeader = "Marquee-Merge-Count"

// MaxCounts bounds the values one request may ask counts for.
const MaxCounts = 256
