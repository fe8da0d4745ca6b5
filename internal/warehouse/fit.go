package warehouse

import (
	"math"
	"slices"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Tolerance (DESIGN.md): a row is never refused for a value its column
// cannot hold. A record decoded by privatenumber fits already; one built
// some other way (a replay of old messages, a caller of this package) may
// not, and the driver would store a DateTime outside 1970..2106 or a
// narrowed integer wrapped around. Such a value is replaced by what its
// column can hold (NULL, 0, or the derived callInTime) and noted as an
// anomaly of kind range (missing for an absent callInTime) on the row.

// fitRows returns rows with fit applied: a copy when any row changes,
// rows itself otherwise. rows is not modified: the recorder hands the same
// records to the recording jobs.
func fitRows[T any](rows []T, fit func(*T) bool) []T {
	var out []T
	for i := range rows {
		r := rows[i] // a copy; fit may change it
		if !fit(&r) {
			continue
		}
		if out == nil {
			out = slices.Clone(rows)
		}
		out[i] = r
	}
	if out == nil {
		return rows
	}
	return out
}

// fitFee brings r within fee_records' columns, reporting whether it
// changed anything. r's Anomalies are replaced, never appended to in
// place: they may share an array with the caller's record.
func fitFee(r *privatenumber.FeeRecord) bool {
	var notes []privatenumber.Anomaly
	note := func(field, kind string) { notes = append(notes, privatenumber.Anomaly{Field: field, Kind: kind}) }
	for _, t := range []struct {
		name string
		v    *privatenumber.Time
	}{
		{"fwdStartTime", &r.FwdStartTime}, {"fwdAlertingTime", &r.FwdAlertingTime}, {"fwdAnswerTime", &r.FwdAnswerTime},
		{"callEndTime", &r.CallEndTime}, {"failTime", &r.FailTime}, {"recordStartTime", &r.RecordStartTime},
	} {
		if !t.v.IsZero() && !fitsDateTime(*t.v) {
			*t.v = privatenumber.Time{}
			note(t.name, privatenumber.AnomalyRange)
		}
	}
	switch {
	case r.CallInTime.IsZero():
		note("callInTime", privatenumber.AnomalyMissing)
	case !fitsDateTime(r.CallInTime):
		note("callInTime", privatenumber.AnomalyRange)
	}
	if r.CallInTime.IsZero() || !fitsDateTime(r.CallInTime) {
		r.CallInTime, r.CallInTimeDerived = r.DerivedCallInTime(), true
	}
	for _, n := range []struct {
		name   string
		v      *privatenumber.Int
		lo, hi int64
	}{
		{"direction", &r.Direction, 0, math.MaxUint8},
		{"recordFlag", &r.RecordFlag, 0, math.MaxUint8},
		{"fwdUnaswRsn", &r.FwdUnaswRsn, math.MinInt32, math.MaxInt32},
		{"ulFailReason", &r.ULFailReason, math.MinInt32, math.MaxInt32},
		{"sipStatusCode", &r.SIPStatusCode, math.MinInt32, math.MaxInt32},
		{"callOutUnaswRsn", &r.CallOutUnaswRsn, math.MinInt32, math.MaxInt32},
		{"ttsPlayTimes", &r.TTSPlayTimes, math.MinInt32, math.MaxInt32},
		{"ttsTransDuration", &r.TTSTransDuration, math.MinInt32, math.MaxInt32},
	} {
		if int64(*n.v) < n.lo || int64(*n.v) > n.hi {
			*n.v = 0
			note(n.name, privatenumber.AnomalyRange)
		}
	}
	if !fitsNullable(r.CallDuration, math.MinInt32, math.MaxInt32) {
		r.CallDuration = nil
		note("callDuration", privatenumber.AnomalyRange)
	}
	if len(notes) == 0 {
		return false
	}
	r.Anomalies = append(slices.Clip(r.Anomalies), notes...)
	return true
}

// fitEvent brings e's non-identity values within call_events' columns, as
// fitFee does.
func fitEvent(e *privatenumber.CallEvent) bool {
	var notes []privatenumber.Anomaly
	if !fitsNullable(e.StateCode, math.MinInt32, math.MaxInt32) {
		e.StateCode = nil
		notes = append(notes, privatenumber.Anomaly{Field: "statusInfo.stateCode", Kind: privatenumber.AnomalyRange})
	}
	if !fitsNullable(e.CallRelDirection, 0, math.MaxUint8) {
		e.CallRelDirection = nil
		notes = append(notes, privatenumber.Anomaly{Field: "statusInfo.callRelDirection", Kind: privatenumber.AnomalyRange})
	}
	if len(notes) == 0 {
		return false
	}
	e.Anomalies = append(slices.Clip(e.Anomalies), notes...)
	return true
}

// fitsNullable reports whether a nullable column of lo..hi holds n.
func fitsNullable(n *privatenumber.Int, lo, hi int64) bool {
	return n == nil || (int64(*n) >= lo && int64(*n) <= hi)
}
