package nonces_test

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// bucketConfig is the nonce bucket as the tests create it; a minute of
// delete markers makes an expired key go through kv.Create's marker path.
func bucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         "PN_NONCES",
		History:        1,
		Storage:        jetstream.FileStorage,
		LimitMarkerTTL: time.Minute,
	}
}
