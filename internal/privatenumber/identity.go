package privatenumber

// The identity of each record, used as the JetStream Nats-Msg-Id and as the
// deduplication key of the ClickHouse tables and S3 object keys. One
// identity per record from the push to the row is what keeps results free of
// duplicates when the platform re-pushes.

// MsgID returns "fee:<icid>".
func (r *FeeRecord) MsgID() string { return "fee:" + r.ICID }

// MsgID returns "event:<sessionId>:<eventType>:<timestamp>".
func (e *CallEvent) MsgID() string {
	return "event:" + e.SessionID + ":" + e.EventType + ":" + e.Timestamp.String()
}

// RecordingMsgID returns "rec:<icid>", the identity of a recording job.
func RecordingMsgID(icid string) string { return "rec:" + icid }
