package searchsvc

import "time"

// SetBootstrapTimes shortens the bootstrap's budgets for a test, until the returned restore.
func SetBootstrapTimes(patience, firstByte, idle time.Duration) (restore func()) {
	p, f, i := bootstrapPatience, bootstrapFirstByte, bootstrapIdle
	bootstrapPatience, bootstrapFirstByte, bootstrapIdle = patience, firstByte, idle
	return func() { bootstrapPatience, bootstrapFirstByte, bootstrapIdle = p, f, i }
}
