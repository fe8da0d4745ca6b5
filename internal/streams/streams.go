// Package streams holds pnstream's JetStream layout: the six data and
// dead-letter streams, their subjects, the headers pnstream sets on
// messages, and the idempotent provisioning that creates or updates them
// (and retires the nonce stream of earlier versions).
//
// Only the recorder's set-up (and its -migrate-only Job) provisions, so the
// operator's limits are set in one place; ingest only checks (Check) that
// everything exists.
package streams

// Stream names and subjects; see DESIGN.md.
const (
	Events     = "PN_EVENTS"
	Fees       = "PN_FEES"
	Recordings = "PN_RECORDINGS"
	Numbers    = "PN_NUMBERS" // X-number states, one message per numInfo item
	Rejected   = "PN_REJECTED"
	Dead       = "PN_DEAD"

	// LegacyNonces is the stream of push nonces of earlier versions, on
	// LegacyNonceSubject. Provision moves its live nonces into PN_EVENTS
	// (ClaimSubject) and deletes it.
	LegacyNonces       = "PN_NONCES"
	LegacyNonceSubject = "pn.nonces"

	EventSubjectPrefix = "pn.events." // + eventType
	// ClaimSubject carries, in PN_EVENTS, the nonce claims of pushes that
	// are not a single call event (fee and X-number pushes): every push
	// nonce is a message id of PN_EVENTS, whose duplicate window is the
	// nonce window (nonces.NewDeduplicated). A single-event push needs no
	// claim: its event's message carries the nonce as its id.
	ClaimSubject = "pn.claims"
	FeeSubject   = "pn.fees"
	// RecordedFeeSubject carries the fee records of recorded calls
	// (recordFlag=1), in PN_FEES beside FeeSubject: the recorder stores
	// both, and the mirror takes its recording jobs from this one.
	RecordedFeeSubject = "pn.fees.recorded"
	RecordingSubject   = "pn.recordings.mirror"
	NumberSubject      = "pn.numbers.status"
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
	// HeaderPushDigest is set on a message whose id is a push nonce
	// (nonces.Key) rather than the record's identity: the digest of the
	// push body (nonces.Digest, base64url), which decides whether a
	// repeated nonce is the same push.
	HeaderPushDigest = "Pn-Push-Digest"
)

// FeeSubjectFor returns the subject of a fee record: RecordedFeeSubject
// for a recorded call, FeeSubject otherwise.
func FeeSubjectFor(recorded bool) string {
	if recorded {
		return RecordedFeeSubject
	}
	return FeeSubject
}

// EventSubject returns the subject of a call event of the given type.
func EventSubject(eventType string) string { return EventSubjectPrefix + eventType }
