//go:build race

package e2e

// raceEnabled: the race detector is on (make test runs every test with it).
const raceEnabled = true
