// Package e2e tests the whole pipeline on real servers: pushes posted over
// HTTP to ingest, stored in an embedded NATS JetStream server, consumed by
// the recorder and written to a real ClickHouse server. It has no code of
// its own besides the tests.
package e2e
