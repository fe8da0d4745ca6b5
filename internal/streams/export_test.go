package streams

import "github.com/nats-io/nats.go"

// ParseAckForTest is parseAck on a PubAck's data.
func ParseAckForTest(data []byte) (Ack, error) { return parseAck(&nats.Msg{Data: data}) }

// ParseAckJSONForTest is parseAckJSON.
func ParseAckJSONForTest(data []byte) (Ack, error) { return parseAckJSON(data) }
