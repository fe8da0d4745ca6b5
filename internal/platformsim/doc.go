// Package platformsim is a faithful stand-in for the Huawei Cloud Private
// Number platform in AXE mode, for tests, demos and load runs where the real
// platform cannot be reached.
//
// Faithful means it enforces the platform's documented contract (as
// internal/privatenumber, aksk and axeapi model it) rather than answering
// 200 to everything: the API verifies both AKSK headers (realm, profile, type,
// every UsernameToken attribute, the digest, a replay window around Created
// and nonces not reused), validates every bind parameter the way the
// platform does (result code 1010002 naming the field), allocates
// extensions of the configured length, answers unknown bindings with
// 1012007, pages query v2 and the virtual-number API (cursor and limit
// 1..100 checked, 1010002 otherwise), and answers the recording API with
// HTTP 301 and a Location.
// Where the reference is unsure it is lenient on input (recordFlag as JSON
// true or "true", integers as numeric strings) and strict on output (the
// documented field names and types).
//
// The binding store (Bindings) is shared by the API (NewAPI) and the call
// simulation, which places AXE calls on the active bindings, pushes call
// events and CDRs, and serves the recordings.
package platformsim
