//go:build !race

package privatenumber

const raceEnabled = false
