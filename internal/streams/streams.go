// Package streams holds pnstream's JetStream layout: the five streams, their
// subjects, the headers pnstream sets on messages, and the idempotent
// provisioning that creates or updates the streams at start-up.
//
// Ingest and the recorder both provision, so either can start first.
package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and subjects; see DESIGN.md.
const (
	Events     = "PN_EVENTS"
	Fees       = "PN_FEES"
	Recordings = "PN_RECORDINGS"
	Rejected   = "PN_REJECTED"
	Dead       = "PN_DEAD"

	EventSubjectPrefix = "pn.events." // + eventType
	FeeSubject         = "pn.fees"
	RecordingSubject   = "pn.recordings.mirror"
	RejectedPrefix     = "pn.rejected." // + reason class
	DeadPrefix         = "pn.dead."     // + source stream kind
)

// Headers pnstream sets on rejected and dead-letter messages.
const (
	HeaderReason      = "Pn-Reason"      // why the body was rejected or dead-lettered
	HeaderPath        = "Pn-Path"        // HTTP path the body was posted to
	HeaderRemoteAddr  = "Pn-Remote-Addr" // client address of the push
	HeaderReceivedAt  = "Pn-Received-At" // RFC 3339 time ingest received it
	HeaderTruncated   = "Pn-Truncated"   // "true" when only a prefix of the body was kept
	HeaderStatus      = "Pn-Status"      // HTTP status ingest answered
	HeaderStream      = "Pn-Stream"      // stream of the dead message
	HeaderStreamSeq   = "Pn-Stream-Seq"  // its sequence there
	HeaderSubject     = "Pn-Subject"     // its subject
	HeaderDelivered   = "Pn-Num-Delivered"
	HeaderOrigHeaders = "Pn-Orig-" // prefix for copied request headers
)

// EventSubject returns the subject of a call event of the given type.
func EventSubject(eventType string) string { return EventSubjectPrefix + eventType }

// Provision creates every stream of cfg, or updates it to cfg when it
// exists. It is safe to call from several processes at once.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	var errs []error
	for _, sc := range cfg.StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			errs = append(errs, fmt.Errorf("provision stream %s: %w", sc.Name, err))
		}
	}
	return errors.Join(errs...)
}
