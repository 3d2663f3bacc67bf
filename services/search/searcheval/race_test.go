//go:build race

package searcheval_test

const raceEnabled = true
