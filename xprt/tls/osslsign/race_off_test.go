//go:build !race

package osslsign_test

const raceEnabled = false
