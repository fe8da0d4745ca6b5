package nonces_test

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// bucketConfig is the nonce bucket as the recorder's set-up provisions it
// (file storage; its delete markers make an expired key go through
// kv.Create's marker path).
func bucketConfig() jetstream.KeyValueConfig {
	cfg := streams.DefaultConfig()
	cfg.NonceMaxBytes = 64 << 20 // the tests' server allows 1 GiB in all
	return cfg.NonceBucketConfig()
}
