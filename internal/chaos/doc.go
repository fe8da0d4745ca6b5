// Package chaos is pnstream's fault-injection suite: it runs the whole
// pipeline as real processes (nats-server, ingest, recorder, the platform
// simulator pnsim, ClickHouse and the S3 gateway), drives a steady simulated
// load through it, breaks things on purpose (SIGKILL of the recorder in the
// middle of batches and uploads, nats-server killed and restarted,
// ClickHouse and S3 stopped, ingest restarted, late re-pushes after the
// JetStream duplicate window, a node of a three-node JetStream cluster
// killed) and then proves that every record the platform pushed is stored
// exactly once and every recording archived once with its SHA-256.
//
// It has no code of its own besides the tests; `make test-chaos` runs it and
// prints its table. docs/RELIABILITY.md describes what it shows.
package chaos
