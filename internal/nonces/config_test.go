package nonces_test

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// streamConfig is PN_EVENTS, the store of the nonces, as the recorder's
// set-up provisions it, with the duplicate window window and maxBytes (the
// tests' server allows 1 GiB in all).
func streamConfig(window time.Duration, maxBytes int64) jetstream.StreamConfig {
	cfg := streams.DefaultConfig()
	cfg.NonceWindow, cfg.MaxBytes = window, maxBytes
	for _, sc := range cfg.StreamConfigs() {
		if sc.Name == streams.Events {
			sc.MaxMsgSize = int32(min(int64(sc.MaxMsgSize), maxBytes))
			return sc
		}
	}
	panic("no stream " + streams.Events)
}

// bucketConfig is the KV bucket of New, as the bench's comparison creates
// it (file storage; its delete markers make an expired key go through
// kv.Create's marker path).
func bucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: "PN_NONCES_KV", History: 1, Storage: jetstream.FileStorage,
		MaxBytes: 64 << 20, LimitMarkerTTL: time.Minute}
}
