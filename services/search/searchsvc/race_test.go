//go:build race

package searchsvc_test

const raceEnabled = true
