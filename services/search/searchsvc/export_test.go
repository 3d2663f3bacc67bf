package searchsvc

import (
	"time"

	"marquee/services/search/searchindex"
)

// SetBootstrapTimes shortens the bootstrap's budgets for a test, until the returned restore.
func SetBootstrapTimes(patience, firstByte, idle time.Duration) (restore func()) {
	p, f, i := bootstrapPatience, bootstrapFirstByte, bootstrapIdle
	bootstrapPatience, bootstrapFirstByte, bootstrapIdle = patience, firstByte, idle
	return func() { bootstrapPatience, bootstrapFirstByte, bootstrapIdle = p, f, i }
}

// Index is the service's live index, for tests that search it directly.
func (s *Service) Index() *searchindex.Index {
	x, done := s.live.get()
	defer done()
	return x
}
