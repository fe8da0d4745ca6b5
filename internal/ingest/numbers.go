package ingest

import (
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// numberMessages splits an X-number status push into one PN_NUMBERS
// message per numInfo item, each the item's JSON as received, with the
// item's identity (NumberStatus.MsgID: the state and the push's nonce, or
// no id without push auth).
func numberMessages(ns []privatenumber.NumberStatus, nonce string) []streams.Message {
	msgs := make([]streams.Message, len(ns))
	for i := range ns {
		msgs[i] = streams.Message{Subject: streams.NumberSubject, MsgID: ns[i].MsgID(nonce), Data: ns[i].Raw}
	}
	return msgs
}

// countNumbers counts the stored numInfo items and their anomalies.
func (m *metrics) countNumbers(ns []privatenumber.NumberStatus) {
	m.byType[privatenumber.EventTypeNumStatus].Add(float64(len(ns)))
	for i := range ns {
		m.countAnomalies(ns[i].Anomalies)
	}
}
