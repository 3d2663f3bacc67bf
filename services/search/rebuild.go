package search

import "time"

// The states of an index rebuild.
const (
	RebuildIdle     = "idle"
	RebuildBuilding = "building" // the new index replays the stream; the old one serves
	RebuildSwapping = "swapping" // the old indexer stopped; the new index takes the last events
	RebuildDone     = "done"     // the new index serves; the old one is removed
	RebuildFailed   = "failed"   // the old index still serves
)

// RebuildStatus reports on the last (or running) rebuild of a replica's index from the stream.
type RebuildStatus struct {
	State      string     `json:"state"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Checkpoint uint64     `json:"checkpoint"` // stream sequence the new index has applied up to
	Target     uint64     `json:"target"`     // the stream's last sequence; of one partition, the checkpoint plus the events left
	Applied    uint64     `json:"applied"`    // changes applied to the new index
	Movies     uint64     `json:"movies"`     // documents in the new index
	Error      string     `json:"error,omitempty"`
	DurationMS int64      `json:"duration_ms"` // so far, or in all
}
