package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotProvisioned is returned by Check when a stream does not exist: the recorder's set-up has not run yet.
var ErrNotProvisioned = errors.New("jetstream not provisioned (the recorder's set-up or -migrate-only creates it)")

// Provision creates every stream of cfg, or updates them to cfg when they
// exist, then retires the nonce stream of earlier versions
// (RetireLegacyNonces). It is safe to call from several processes at
// once. Lowering a data stream's MaxBytes below what it holds drops
// nothing (DiscardNew only refuses new messages until the recorder consumed
// enough); lowering PN_REJECTED's or PN_DEAD's drops their oldest.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	var errs []error
	for _, sc := range cfg.StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			errs = append(errs, fmt.Errorf("provision stream %s: %w", sc.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return RetireLegacyNonces(ctx, js, cfg.NonceWindow)
}

// all is every stream Provision creates, in the order Check names them.
var all = []string{Events, Fees, Recordings, Numbers, Rejected, Dead}

// Check reports whether every stream exists, creating nothing. Missing ones
// give an error matching ErrNotProvisioned that names each; any other error
// means JetStream could not be asked. It costs one request (a page of
// stream names), so a readiness probe may call it.
func Check(ctx context.Context, js jetstream.JetStream) error {
	want := map[string]bool{}
	for _, name := range all {
		want[name] = true
	}
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		delete(want, name)
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("check streams: %w", err)
	}
	if len(want) == 0 {
		return nil
	}
	var missing []string
	for _, name := range all {
		if want[name] {
			missing = append(missing, "stream "+name)
		}
	}
	return fmt.Errorf("%w: missing %s", ErrNotProvisioned, strings.Join(missing, ", "))
}
