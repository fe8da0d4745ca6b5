//go:build race

package privatenumber

// raceEnabled: the race detector slows decoding about tenfold.
const raceEnabled = true
