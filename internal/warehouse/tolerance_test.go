package warehouse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Tolerance (DESIGN.md): records with anomalies are stored, their
// anomalies on the row and in field_anomalies; values a column cannot hold
// are made to fit, never refused.

// anomalyRow is a row of field_anomalies.
type anomalyRow struct {
	Table, ICID, SessionID, EventType string
	RecordTime                        time.Time
	Field, Kind                       string
}

func readAnomalies(t *testing.T, w *Warehouse) []string {
	t.Helper()
	rows, err := w.conn.Query(testContext(t), `SELECT table, icid, session_id, event_type, record_time, field, kind, ingested_at
		FROM `+w.table("field_anomalies")+` ORDER BY table, icid, session_id, event_type, field`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			r  anomalyRow
			at time.Time
		)
		if err := rows.Scan(&r.Table, &r.ICID, &r.SessionID, &r.EventType, &r.RecordTime, &r.Field, &r.Kind, &at); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(at); d < -time.Minute || d > time.Minute {
			t.Errorf("ingested_at %v is not now", at)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s:%s", r.Table, r.ICID, r.SessionID, r.EventType,
			r.RecordTime.UTC().Format(time.DateTime), r.Field, r.Kind))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestInsertStoresAnomalies(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	// A 2018 CDR without callInTime (reference §11.3), numbers where
	// strings are documented, enumerations out of range.
	fees := decodePush(t, []byte(`{"eventType":"fee","feeLst":[
		{"icid":"c2c-2018","sessionId":"s-2018","callOutStartTime":"2018-06-01 08:00:05","callEndTime":"2018-06-01 08:01:40","fwdAnswerTime":"2018-06-01 08:00:14","recordFlag":0},
		{"icid":"numbers","sessionId":"s-n","callInTime":"2022-05-13 08:00:01","serviceType":4,"mptyId":20220513,"extendNum":42,"callDuration":"x"},
		{"icid":"enums","sessionId":"s-e","callInTime":"2022-05-13 08:00:02","direction":7,"recordFlag":2,"failTime":"13/05/2022"}]}`),
		privatenumber.FeePush).Fees
	events := []privatenumber.CallEvent{
		*decodePush(t, []byte(`{"eventType":"ringing","statusInfo":{"sessionId":"s-e","timestamp":"2022-05-13 08:00:03"}}`), privatenumber.EventPush).Event,
		*decodePush(t, []byte(`{"eventType":"disconnect","statusInfo":{"sessionId":"s-e","timestamp":"2022-05-13 08:00:09","stateCode":"abc","caller":8613800000001,"callRelDirection":3}}`), privatenumber.EventPush).Event,
	}
	for range 2 { // a re-push stores the same rows
		if err := w.InsertFees(ctx, fees); err != nil {
			t.Fatal(err)
		}
		if err := w.InsertEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
	}

	old := readFee(t, w, "c2c-2018")
	if !old.CallInTime.Equal(mustTime(t, "2018-06-01 08:00:14")) || old.CallInTimeDerived != 1 ||
		!slices.Equal(old.Anomalies, []string{"callInTime:missing"}) || old.Raw != string(fees[0].Raw) {
		t.Errorf("CDR without callInTime: %+v", old)
	}
	n := readFee(t, w, "numbers")
	if n.ServiceType != "4" || n.MptyID != "20220513" || n.ExtendNum != "42" || n.CallDuration != nil || n.CallInTimeDerived != 0 ||
		!slices.Equal(n.Anomalies, []string{"mptyId:type", "serviceType:type", "extendNum:type", "callDuration:type"}) {
		t.Errorf("numbers for strings: %+v", n)
	}
	e := readFee(t, w, "enums")
	if e.Direction != 7 || e.RecordFlag != 2 || e.Fail != nil ||
		!slices.Equal(e.Anomalies, []string{"direction:range", "failTime:format", "recordFlag:range"}) {
		t.Errorf("enumerations out of range: %+v", e)
	}

	var (
		rel   *uint8
		code  *int32
		typ   string
		calls string
	)
	if err := w.conn.QueryRow(ctx, `SELECT call_rel_direction, state_code, event_type, caller FROM `+w.table("call_events_latest")+
		` WHERE event_type = 'disconnect'`).Scan(&rel, &code, &typ, &calls); err != nil {
		t.Fatal(err)
	}
	if rel == nil || *rel != 3 || code != nil || calls != "8613800000001" {
		t.Errorf("disconnect row: call_rel_direction %v state_code %v caller %q", rel, code, calls)
	}

	want := []string{
		"call_events  s-e disconnect 2022-05-13 08:00:09 statusInfo.callRelDirection:range",
		"call_events  s-e disconnect 2022-05-13 08:00:09 statusInfo.caller:type",
		"call_events  s-e disconnect 2022-05-13 08:00:09 statusInfo.stateCode:type",
		"call_events  s-e ringing 2022-05-13 08:00:03 eventType:unknown",
		"fee_records c2c-2018 s-2018  2018-06-01 08:00:14 callInTime:missing",
		"fee_records enums s-e  2022-05-13 08:00:02 direction:range",
		"fee_records enums s-e  2022-05-13 08:00:02 failTime:format",
		"fee_records enums s-e  2022-05-13 08:00:02 recordFlag:range",
		"fee_records numbers s-n  2022-05-13 08:00:01 callDuration:type",
		"fee_records numbers s-n  2022-05-13 08:00:01 extendNum:type",
		"fee_records numbers s-n  2022-05-13 08:00:01 mptyId:type",
		"fee_records numbers s-n  2022-05-13 08:00:01 serviceType:type",
	}
	if got := readAnomalies(t, w); !slices.Equal(got, want) {
		t.Errorf("field_anomalies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInsertFitsValues: values their column cannot hold, in records not
// decoded by privatenumber, are stored as NULL, 0 or the derived
// callInTime, each noted as an anomaly; the caller's records are left as
// they were. (They were permanent row errors before tolerance.)
func TestInsertFitsValues(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	fees := benchFees(3, 0)
	fees[0].CallEndTime = privatenumber.Time{Time: mustTime(t, "2200-01-01 00:00:00")} // the driver would wrap it to 2063
	fees[0].SIPStatusCode = 1 << 40
	fees[0].Direction = 300
	fees[0].Anomalies = []privatenumber.Anomaly{{Field: "serviceType", Kind: privatenumber.AnomalyType}}
	fees[1].CallInTime = privatenumber.Time{}
	big := privatenumber.Int(1 << 40)
	fees[1].CallDuration = &big
	before := slices.Clone(fees)

	if err := w.InsertFees(ctx, fees); err != nil {
		t.Fatalf("InsertFees: %v", err)
	}
	r0 := readFee(t, w, fees[0].ICID)
	if r0.CallEnd != nil || r0.SIPStatusCode != 0 || r0.Direction != 0 || r0.CallInTimeDerived != 0 ||
		!slices.Equal(r0.Anomalies, []string{"serviceType:type", "callEndTime:range", "direction:range", "sipStatusCode:range"}) {
		t.Errorf("row 0: %+v", r0)
	}
	r1 := readFee(t, w, fees[1].ICID)
	if !r1.CallInTime.Equal(fees[1].FwdStartTime.Time) || r1.CallInTimeDerived != 1 || r1.CallDuration != nil ||
		!slices.Equal(r1.Anomalies, []string{"callInTime:missing", "callDuration:range"}) {
		t.Errorf("row 1: %+v", r1)
	}
	if r2 := readFee(t, w, fees[2].ICID); len(r2.Anomalies) != 0 || r2.CallInTimeDerived != 0 {
		t.Errorf("row 2: %+v", r2)
	}
	for i := range fees {
		if fmt.Sprintf("%+v", fees[i]) != fmt.Sprintf("%+v", before[i]) || len(fees[0].Anomalies) != 1 {
			t.Errorf("InsertFees changed the caller's record %d: %+v", i, fees[i])
		}
	}

	three := privatenumber.Int(300)
	events := []privatenumber.CallEvent{{EventType: "disconnect", SessionID: "s-fit", StateCode: &big, CallRelDirection: &three,
		Timestamp: privatenumber.Time{Time: mustTime(t, "2024-01-01 00:00:00")}, Raw: []byte(`{}`)}}
	if err := w.InsertEvents(ctx, events); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	var (
		code *int32
		rel  *uint8
		as   []string
	)
	if err := w.conn.QueryRow(ctx, `SELECT state_code, call_rel_direction, anomalies FROM `+w.table("call_events")+` FINAL`).Scan(&code, &rel, &as); err != nil {
		t.Fatal(err)
	}
	if code != nil || rel != nil || !slices.Equal(as, []string{"statusInfo.stateCode:range", "statusInfo.callRelDirection:range"}) {
		t.Errorf("event row: state_code %v call_rel_direction %v anomalies %v", code, rel, as)
	}
	if events[0].StateCode == nil || len(events[0].Anomalies) != 0 {
		t.Errorf("InsertEvents changed the caller's event: %+v", events[0])
	}
}
