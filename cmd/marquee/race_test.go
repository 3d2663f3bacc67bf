//go:build race

package main

// raceEnabled reports whether the tests run under the race detector, which makes the heaviest end-to-end
// tests several times slower than their deadlines allow on a small machine.
const raceEnabled = true
