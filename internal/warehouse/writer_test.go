package warehouse

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/retry"
)

// The seed pushes are privatenumber's fixtures: the platform's own samples.
var (
	seedFee   = filepath.Join("..", "privatenumber", "testdata", "seed-fee.json")
	seedEvent = filepath.Join("..", "privatenumber", "testdata", "seed-event.json")
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func timePtr(t testing.TB, s string) *time.Time {
	v := mustTime(t, s)
	return &v
}

// decodePush decodes a push file and fails the test unless every record of
// it is valid.
func decodePush(t testing.TB, body []byte, kind privatenumber.Kind) *privatenumber.Push {
	t.Helper()
	p, err := privatenumber.DecodePush(body, kind)
	if err == nil {
		err = p.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feeRow is a fee_records row as the tests read it back.
type feeRow struct {
	Direction                                                           uint8
	SpID, AppKey, ICID, BindNum, SessionID, SubscriptionID              string
	CallerNum, CalleeNum, FwdDisplayNum, FwdDstNum                      string
	CallInTime                                                          time.Time
	FwdStart, FwdAlerting, FwdAnswer, CallEnd, Fail, RecordStart        *time.Time
	FwdUnaswRsn, ULFailReason, SIPStatusCode, CallOutUnaswRsn           int32
	RecordFlag                                                          uint8
	RecordDomain, RecordBucketName, RecordObjectName, RecordDownloadURL string
	TTSPlayTimes, TTSTransDuration                                      int32
	MptyID, ServiceType, HostName, ExtendNum                            string
	CallDuration                                                        *int32
	AreaCode                                                            string
	CallInTimeDerived                                                   uint8
	Anomalies                                                           []string
	Raw                                                                 string
}

func readFee(t *testing.T, w *Warehouse, icid string) feeRow {
	t.Helper()
	var r feeRow
	err := w.conn.QueryRow(testContext(t), `SELECT direction, sp_id, app_key, icid, bind_num, session_id, subscription_id,
		caller_num, callee_num, fwd_display_num, fwd_dst_num, call_in_time, fwd_start_time, fwd_alerting_time,
		fwd_answer_time, call_end_time, fail_time, record_start_time, fwd_unasw_rsn, ul_fail_reason, sip_status_code,
		call_out_unasw_rsn, record_flag, record_domain, record_bucket_name, record_object_name, record_file_download_url,
		tts_play_times, tts_trans_duration, mpty_id, service_type, host_name, extend_num,
		call_duration, area_code, call_in_time_derived, anomalies, raw
		FROM `+w.table("fee_records_latest")+` WHERE icid = ?`, icid).Scan(
		&r.Direction, &r.SpID, &r.AppKey, &r.ICID, &r.BindNum, &r.SessionID, &r.SubscriptionID,
		&r.CallerNum, &r.CalleeNum, &r.FwdDisplayNum, &r.FwdDstNum, &r.CallInTime, &r.FwdStart, &r.FwdAlerting,
		&r.FwdAnswer, &r.CallEnd, &r.Fail, &r.RecordStart, &r.FwdUnaswRsn, &r.ULFailReason, &r.SIPStatusCode,
		&r.CallOutUnaswRsn, &r.RecordFlag, &r.RecordDomain, &r.RecordBucketName, &r.RecordObjectName, &r.RecordDownloadURL,
		&r.TTSPlayTimes, &r.TTSTransDuration, &r.MptyID, &r.ServiceType, &r.HostName, &r.ExtendNum,
		&r.CallDuration, &r.AreaCode, &r.CallInTimeDerived, &r.Anomalies, &r.Raw)
	if err != nil {
		t.Fatalf("read fee %s: %v", icid, err)
	}
	// The driver returns DateTime in the column's zone; compare instants.
	r.CallInTime = r.CallInTime.UTC()
	for _, p := range []**time.Time{&r.FwdStart, &r.FwdAlerting, &r.FwdAnswer, &r.CallEnd, &r.Fail, &r.RecordStart} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return r
}

func TestInsertFeesStoresEveryField(t *testing.T) {
	w := migrated(t)
	seed := decodePush(t, readFile(t, seedFee), privatenumber.FeePush)
	// A second record exercising the tolerant spellings: numeric strings,
	// absent times, extendNum instead of extendNumber, no binding.
	other := decodePush(t, []byte(`{"eventType":"fee","feeLst":[{"direction":"2","icid":"icid-2","sessionId":"s-2",
		"callInTime":"2022-05-13 08:00:01","failTime":"2022-05-13 08:00:09","fwdUnaswRsn":"17","ulFailReason":8022,
		"sipStatusCode":"486","callOutUnaswRsn":-1,"recordFlag":"","extendNum":"0042","serviceType":"004",
		"recordFileDownloadUrl":"https://example.com/r.wav","voiceCheckType":0,"callDuration":"8","areaCode":"0755"}]}`), privatenumber.FeePush)
	recs := append(seed.Fees, other.Fees...)
	if err := w.InsertFees(testContext(t), recs); err != nil {
		t.Fatal(err)
	}

	got := readFee(t, w, "ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5")
	want := feeRow{
		Direction: 0, SpID: "****", AppKey: "********", ICID: "ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5",
		BindNum: "+86138****0022", SessionID: "1201_11275_4294967295_20190124033310@callenabler246.huaweicaas.com",
		SubscriptionID: "********", CallerNum: "+86138****7021", CalleeNum: "+86138****0022",
		FwdDisplayNum: "+86138****0022", FwdDstNum: "+86138****0021",
		CallInTime:  mustTime(t, "2019-01-24 03:33:10"),
		FwdStart:    timePtr(t, "2019-01-24 03:33:16"),
		FwdAlerting: timePtr(t, "2019-01-24 03:33:19"),
		FwdAnswer:   timePtr(t, "2019-01-24 03:33:28"),
		CallEnd:     timePtr(t, "2019-01-24 03:33:57"),
		Fail:        nil, // absent from the seed
		RecordStart: timePtr(t, "2019-01-24 03:33:28"),
		RecordFlag:  1, RecordDomain: "****.com", RecordBucketName: "****", RecordObjectName: "********.wav",
		MptyID: "********", ServiceType: "005", HostName: "callenabler246.huaweicaas.com",
		ExtendNum: "02", // sent as extendNumber
		Anomalies: []string{},
		Raw:       string(recs[0].Raw),
	}
	if !equalJSON(got, want) {
		t.Errorf("seed row:\n got %+v\nwant %+v", got, want)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(got.Raw), &raw); err != nil || raw["icid"] != want.ICID {
		t.Errorf("raw is not the record's JSON: %v %q", err, got.Raw)
	}

	got = readFee(t, w, "icid-2")
	want = feeRow{
		Direction: 2, ICID: "icid-2", SessionID: "s-2",
		CallInTime: mustTime(t, "2022-05-13 08:00:01"), Fail: timePtr(t, "2022-05-13 08:00:09"),
		FwdUnaswRsn: 17, ULFailReason: 8022, SIPStatusCode: 486, CallOutUnaswRsn: -1,
		RecordDownloadURL: "https://example.com/r.wav", ServiceType: "004", ExtendNum: "0042",
		CallDuration: new(int32(8)), AreaCode: "0755", Anomalies: []string{},
		Raw: string(recs[1].Raw),
	}
	if !equalJSON(got, want) {
		t.Errorf("tolerant row:\n got %+v\nwant %+v", got, want)
	}
}

// equalJSON compares rows through their JSON form, which follows pointers.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func TestInsertEventsStoresEveryField(t *testing.T) {
	w := migrated(t)
	seed := decodePush(t, readFile(t, seedEvent), privatenumber.EventPush)
	callin := decodePush(t, []byte(`{"eventType":"callin","statusInfo":{"sessionId":"s-9","timestamp":"2023-03-01 12:00:00",
		"caller":"+8613800000001","called":"+8617700000001","userData":"ud"}}`), privatenumber.EventPush)
	if err := w.InsertEvents(testContext(t), []privatenumber.CallEvent{*seed.Event, *callin.Event}); err != nil {
		t.Fatal(err)
	}

	type eventRow struct {
		SessionID, EventType                      string
		EventTime                                 time.Time
		Caller, Called, SubscriptionID, DigitInfo string
		StateCode                                 *int32
		StateDesc, UserData                       string
		CallRelDirection                          *uint8
		Anomalies                                 []string
		Raw                                       string
		IngestedAt                                time.Time
	}
	rows, err := w.conn.Query(testContext(t), `SELECT session_id, event_type, event_time, caller, called, subscription_id,
		digit_info, state_code, state_desc, user_data, call_rel_direction, anomalies, raw, ingested_at
		FROM `+w.table("call_events_latest")+` ORDER BY event_time`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.SessionID, &r.EventType, &r.EventTime, &r.Caller, &r.Called, &r.SubscriptionID,
			&r.DigitInfo, &r.StateCode, &r.StateDesc, &r.UserData, &r.CallRelDirection, &r.Anomalies, &r.Raw, &r.IngestedAt); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(r.IngestedAt); d < -time.Minute || d > time.Minute {
			t.Errorf("ingested_at %v is not now", r.IngestedAt)
		}
		r.EventTime, r.IngestedAt = r.EventTime.UTC(), time.Time{}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	want := []eventRow{{
		SessionID: "1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com", EventType: "disconnect",
		EventTime: mustTime(t, "2019-01-24 07:03:28"), Caller: "+86138****0022", Called: "+86138****7021",
		SubscriptionID: "********", StateCode: &zero, StateDesc: "The user releases the call.",
		Anomalies: []string{}, Raw: string(seed.Event.Raw),
	}, {
		SessionID: "s-9", EventType: "callin", EventTime: mustTime(t, "2023-03-01 12:00:00"),
		Caller: "+8613800000001", Called: "+8617700000001", UserData: "ud",
		StateCode: nil, // no stateCode on callin
		Anomalies: []string{}, Raw: string(callin.Event.Raw),
	}}
	if !equalJSON(got, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", got, want)
	}
}

// TestReinsertCollapses inserts the same batches seven times, as replays and
// the platform's re-pushes do; FINAL (and the latest views) must show one
// row per identity. (A plain count() is anywhere between 50 and 350: the
// server merges parts in the background whenever it likes.)
func TestReinsertCollapses(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	fees := benchFees(50, 0)
	events := []privatenumber.CallEvent{
		*decodePush(t, readFile(t, seedEvent), privatenumber.EventPush).Event,
	}
	recs := []recording.Row{{ICID: "r1", Status: recording.Failed, Error: "403", MirroredAt: mustTime(t, "2024-01-01 00:00:00")}}
	for i := range 7 {
		if err := w.InsertFees(ctx, fees); err != nil {
			t.Fatal(err)
		}
		if err := w.InsertEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		recs[0].MirroredAt = recs[0].MirroredAt.Add(time.Minute)
		if i == 6 {
			recs[0].Status, recs[0].Error, recs[0].SizeBytes = recording.Archived, "", 1234
		}
		if err := w.InsertRecordings(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		want  uint64
	}{
		{"SELECT count() FROM {db}.fee_records FINAL", 50},
		{"SELECT count() FROM {db}.fee_records_latest", 50},
		{"SELECT uniqExact(icid) FROM {db}.fee_records_latest", 50},
		{"SELECT count() FROM {db}.call_events FINAL", 1},
		{"SELECT count() FROM {db}.call_events_latest", 1},
		{"SELECT count() FROM {db}.recordings_latest", 1},
		{"SELECT size_bytes FROM {db}.recordings FINAL WHERE status = 'archived'", 1234},
	} {
		var got uint64
		q := strings.ReplaceAll(tc.query, "{db}", w.db)
		if err := w.conn.QueryRow(ctx, q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != tc.want {
			t.Errorf("%s = %d, want %d", q, got, tc.want)
		}
	}
}

// TestInsertRejectsUnstorableRows: a row without its identity is a
// permanent row error, found before anything is sent, so the good rows of
// the batch are not stored either and the caller can retry them alone.
// (Before tolerance, a time or integer outside its column refused its row
// too; TestInsertFitsValues covers them now.)
func TestInsertRejectsUnstorableRows(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	fees := benchFees(5, 0)
	fees[3].ICID = ""

	err := w.InsertFees(ctx, fees)
	if !retry.IsPermanent(err) {
		t.Fatalf("InsertFees = %v, want a permanent error", err)
	}
	if got := BadRows(err); !slices.Equal(got, []int{3}) {
		t.Errorf("BadRows = %v, want [3]; err: %v", got, err)
	}
	var n uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.table("fee_records")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows stored, want none", n)
	}

	good := slices.Delete(slices.Clone(fees), 3, 4)
	if err := w.InsertFees(ctx, good); err != nil {
		t.Errorf("the remaining rows: %v", err)
	}

	mark := privatenumber.Time{Time: mustTime(t, "2024-01-01 00:00:00")}
	bad := []privatenumber.CallEvent{
		{EventType: "answer", SessionID: "s"},
		{EventType: "answer", SessionID: "s", Timestamp: privatenumber.Time{Time: mustTime(t, "2200-01-01 00:00:00")}},
		{EventType: "", SessionID: "s", Timestamp: mark},
		{EventType: "answer", SessionID: "", Timestamp: mark},
	}
	if err := w.InsertEvents(ctx, bad); !retry.IsPermanent(err) || !slices.Equal(BadRows(err), []int{0, 1, 2, 3}) {
		t.Errorf("events without their identity: %v, want a permanent error for rows 0 to 3", err)
	}
	if err := w.InsertRecordings(ctx, []recording.Row{{ICID: "x", Status: "done"}}); !retry.IsPermanent(err) {
		t.Errorf("recording with an unknown status: %v, want permanent", err)
	}
}

// TestAppendConversionError: a value the driver cannot convert fails
// Append; that row is a permanent RowError and nothing is sent.
func TestAppendConversionError(t *testing.T) {
	w := migrated(t)
	cols := []column[recording.Row]{
		{"icid", func(r *recording.Row) any { return r.ICID }},
		{"mirrored_at", func(r *recording.Row) any { return r.Status }}, // a string where a DateTime goes
	}
	rows := []recording.Row{{ICID: "a", Status: "2024-01-01 00:00:00"}, {ICID: "b", Status: "yesterday"}}
	err := insertRows(testContext(t), w, insertQuery(w.table("recordings"), cols), rows, chunk{0, 2}, cols, recordingID)
	if !retry.IsPermanent(err) || !slices.Equal(BadRows(err), []int{1}) {
		t.Fatalf("insertRows = %v, want a permanent RowError for row 1", err)
	}
	var n uint64
	if err := w.conn.QueryRow(testContext(t), "SELECT count() FROM "+w.table("recordings")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows stored, want none", n)
	}
}

func TestInsertEmptyBatches(t *testing.T) {
	// No round trip at all: even an unmigrated database is fine.
	w := openTest(t)
	ctx := testContext(t)
	if err := w.InsertFees(ctx, nil); err != nil {
		t.Error(err)
	}
	if err := w.InsertEvents(ctx, nil); err != nil {
		t.Error(err)
	}
	if err := w.InsertRecordings(ctx, nil); err != nil {
		t.Error(err)
	}
}

// TestInsertInBlocks: a batch larger than one block is one INSERT of
// several blocks, stored whole as a single part (the server gathers the
// blocks of an INSERT), every row once.
func TestInsertInBlocks(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	n := 2*blockRows + 100 // three blocks, the last one short
	recs := benchFees(n, 1)
	if err := w.InsertFees(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var rows, distinct, parts uint64
	if err := w.conn.QueryRow(ctx, "SELECT count(), uniqExact(icid) FROM "+w.table("fee_records")).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(n) || distinct != uint64(n) {
		t.Errorf("%d rows, %d icids, want %d of each", rows, distinct, n)
	}
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'fee_records'", w.db).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	// benchFees spans one month: one partition, so one part per INSERT.
	if parts != 1 {
		t.Errorf("%d parts, want 1: the blocks of one INSERT were not gathered", parts)
	}
	got := readFee(t, w, recs[n-1].ICID)
	if got.ICID != recs[n-1].ICID || got.Raw != string(recs[n-1].Raw) {
		t.Errorf("last row %+v, want the last record", got)
	}
}

// TestInsertBlocksFallsBackToRows: when the driver refuses a column of a
// block, the chunk goes again row by row, which names the row at fault and
// sends nothing. Blocks sent before the refusal may be stored (ClickHouse
// 18.16 keeps what an INSERT cut short had received), which is harmless:
// the caller inserts the rows again without the bad one, and rows of one
// identity collapse under FINAL.
func TestInsertBlocksFallsBackToRows(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	fields := []field[recording.Row]{
		stringField("icid", func(r *recording.Row) string { return r.ICID }),
		stringField("mirrored_at", func(r *recording.Row) string { return r.Status }), // a string where a DateTime goes
	}
	n := blockRows + 2
	rows := make([]recording.Row, n)
	for i := range rows {
		rows[i] = recording.Row{ICID: fmt.Sprintf("r%d", i), Status: "2024-01-01 00:00:00"}
	}
	rows[n-1].Status = "yesterday" // in the second block, after the first was sent
	size := func(*recording.Row) int { return 1 }
	err := insertBlocks(ctx, w, insertQuery(w.table("recordings"), columnsOf(fields)), rows, chunk{0, n}, fields, recordingID, size)
	if !retry.IsPermanent(err) || !slices.Equal(BadRows(err), []int{n - 1}) {
		t.Fatalf("insertBlocks = %v, want a permanent RowError for row %d", err, n-1)
	}
	var stored, bad uint64
	if err := w.conn.QueryRow(ctx, "SELECT count(), countIf(icid = ?) FROM "+w.table("recordings"), rows[n-1].ICID).Scan(&stored, &bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 || stored > blockRows {
		t.Errorf("%d rows stored, %d of them the bad one: want at most the first block's %d, without the bad row", stored, bad, blockRows)
	}
}
