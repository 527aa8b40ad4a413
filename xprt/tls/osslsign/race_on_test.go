//go:build race

package osslsign_test

// raceEnabled: the race detector's shadow memory grows with every heap
// allocation and is never returned, which drowns a resident-size check.
const raceEnabled = true
