package ingest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/streams"
)

// Tolerance (DESIGN.md): a push whose records have values not as
// documented is stored as received and answered 200; each anomaly is
// counted; only an identity problem is a 400.
func TestAnomaliesStoredAndCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A 2018 CDR without callInTime, numbers where strings are
	// documented, an enumeration out of range.
	body := []byte(`{"eventType":"fee","feeLst":[
		{"icid":"no-call-in-time","sessionId":"s-1","callOutStartTime":"2018-06-01 08:00:05","callEndTime":"2018-06-01 08:01:40"},
		{"icid":"numbers","sessionId":"s-2","callInTime":"2024-05-01 10:00:00","serviceType":4,"mptyId":7,"direction":7}]}`)
	for range 2 { // a re-push counts again
		if r := e.post(ingest.PathFees, body, signed); r.status != 200 {
			t.Fatalf("fee push with anomalies: %d %s", r.status, r.raw)
		}
	}
	event := []byte(`{"eventType":"ringing","statusInfo":{"sessionId":"s-3","timestamp":"2024-05-01 10:00:00","stateCode":"abc"}}`)
	if r := e.post(ingest.PathEvents, event, signed); r.status != 200 {
		t.Fatalf("event of an undocumented type: %d %s", r.status, r.raw)
	}

	// The messages are the records exactly as received.
	m := e.lastMsg(streams.Fees, streams.FeeSubject)
	start := bytes.Index(body, []byte(`{"icid":"numbers"`))
	if !bytes.Equal(m.Data, body[start:bytes.LastIndexByte(body, '}')-1]) || m.Header.Get(nats.MsgIdHdr) != "fee:numbers" {
		t.Errorf("fee message %s (%s), want the record as received", m.Data, m.Header.Get(nats.MsgIdHdr))
	}
	ev := e.lastMsg(streams.Events, streams.EventSubject("ringing"))
	if !bytes.Equal(ev.Data, event) {
		t.Errorf("event message %s, want the push as received", ev.Data)
	}
	checkClaimedWith(t, ev, event)
	if n := e.count(streams.Fees); n != 2 {
		t.Errorf("PN_FEES holds %d, want 2 (the re-push is a duplicate)", n)
	}

	metrics := e.get(ingest.PathMetrics)
	for _, line := range []string{
		`pn_ingest_field_anomalies_total{field="callInTime",kind="missing"} 2`,
		`pn_ingest_field_anomalies_total{field="serviceType",kind="type"} 2`,
		`pn_ingest_field_anomalies_total{field="mptyId",kind="type"} 2`,
		`pn_ingest_field_anomalies_total{field="direction",kind="range"} 2`,
		`pn_ingest_field_anomalies_total{field="eventType",kind="unknown"} 1`,
		`pn_ingest_field_anomalies_total{field="statusInfo.stateCode",kind="type"} 1`,
		`pn_ingest_records_total{type="other"} 1`,
		`pn_ingest_records_total{type="fee"} 4`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s:\n%s", line, grep(metrics, "pn_ingest_"))
		}
	}
	if n := strings.Count(metrics, "pn_ingest_field_anomalies_total{"); n != 6 {
		t.Errorf("%d anomaly series, want 6:\n%s", n, grep(metrics, "anomalies"))
	}
	if n := e.count(streams.Rejected); n != 0 {
		t.Errorf("PN_REJECTED holds %d, want nothing", n)
	}

	// An identity problem still refuses the record, naming it; its
	// neighbour's anomalies are counted once it is stored.
	bad := []byte(`{"eventType":"fee","feeLst":[{"icid":"x y","sessionId":"s-4","serviceType":5},{"icid":"beside","sessionId":"s-5","hostName":1}]}`)
	r := e.post(ingest.PathFees, bad, signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "feeLst[0].icid" {
		t.Fatalf("identity with a space: %d %s", r.status, r.raw)
	}
	metrics = e.get(ingest.PathMetrics)
	for _, line := range []string{
		`pn_ingest_field_anomalies_total{field="hostName",kind="type"} 1`,
		`pn_ingest_field_anomalies_total{field="serviceType",kind="type"} 2`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("after the partly refused push, metrics lack %s:\n%s", line, grep(metrics, "anomalies"))
		}
	}
	for _, tt := range []struct{ path, body, field string }{
		{ingest.PathEvents, `{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"1548313408"}}`, "statusInfo.timestamp"},
		{ingest.PathEvents, `{"eventType":"a.b","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00:00"}}`, "eventType"},
		{ingest.PathFees, `{"eventType":"fee","feeLst":[{"icid":5,"sessionId":"s"}]}`, "feeLst[0].icid"},
	} {
		if r := e.post(tt.path, []byte(tt.body), signed); r.status != 400 || len(r.body.Errors) == 0 || r.body.Errors[0].Field != tt.field {
			t.Errorf("%s: %d %s, want 400 naming %s", tt.body, r.status, r.raw, tt.field)
		}
	}
	if got := fmt.Sprint(e.count(streams.Rejected)); got != "4" {
		t.Errorf("PN_REJECTED holds %s, want the 4 refused bodies", got)
	}
}
