package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// numberColumns are number_status' columns except ingested_at. X numbers
// are the company's own leased numbers, not subscribers': like a CDR's
// bindNum they are outside the PII policy (internal/pii covers the
// subscribers' numbers only), so the rows and raw items are stored as sent.
var numberColumns = []column[privatenumber.NumberStatus]{
	{"number", func(n *privatenumber.NumberStatus) any { return n.Number }},
	{"status", func(n *privatenumber.NumberStatus) any { return n.Status }},
	{"cause", func(n *privatenumber.NumberStatus) any { return n.Cause }},
	{"raw", func(n *privatenumber.NumberStatus) any { return string(n.Raw) }},
	{"anomalies", func(n *privatenumber.NumberStatus) any { return anomalyStrings(n.Anomalies) }},
	{"stream_seq", func(n *privatenumber.NumberStatus) any { return n.StreamSeq }},
}

// anomalyStrings is the anomalies column: "field:kind" each, never nil (the
// driver wants an array).
func anomalyStrings(as []privatenumber.Anomaly) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func numberID(n *privatenumber.NumberStatus) string { return n.Number }

// InsertNumberStatus stores X-number states in number_status, one row per
// numInfo item, in one INSERT, all with the same ingested_at, the current
// time in UTC; stream_seq orders the states of one number within it.
//
// Re-inserting a state is harmless: rows of one (number, status, cause)
// collapse to the latest ingested_at. So after any error the caller may
// retry the whole slice. A row without a number is reported before
// anything is sent, as a *RowError, marked permanent.
func (w *Warehouse) InsertNumberStatus(ctx context.Context, rows []privatenumber.NumberStatus) error {
	if len(rows) == 0 {
		return nil
	}
	if err := checkRows(rows, checkNumber, numberID); err != nil {
		return fmt.Errorf("insert number status batch: %w", err)
	}
	query := insertQuery(w.table("number_status"), numberColumns, "ingested_at")
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	if err := insertRows(ctx, w, query, rows, chunk{0, len(rows)}, numberColumns, numberID, ingestedAt); err != nil {
		return fmt.Errorf("insert number status batch: %w", err)
	}
	return nil
}

func checkNumber(n *privatenumber.NumberStatus) error {
	if n.Number == "" {
		return errors.New("number: empty")
	}
	return nil
}

// NumberState is the current state of one X number: a row of
// number_status_current.
type NumberState struct {
	Number string
	Status string // the status code as sent
	Cause  string // the cause code as sent, empty when usable
	// Usable is false while the number cannot be used: a cause other than
	// 6 (restriction lifted). UNCONFIRMED reading of reference §11.1; see
	// privatenumber.UsableCause.
	Usable bool
	// Since is when this state was last pushed, UTC: when the number
	// entered it, as the platform pushes on a change only.
	Since     time.Time
	Anomalies []string
}

// NumberStates returns the current state of every X number the platform
// reported, ordered by number; with unusableOnly, of those not usable only.
// It reads number_status_current, one row per number: a light query.
func (w *Warehouse) NumberStates(ctx context.Context, unusableOnly bool) ([]NumberState, error) {
	where := ""
	if unusableOnly {
		where = " WHERE usable = 0"
	}
	return selectAll(ctx, w, "number states", `SELECT number, status, cause, usable, ingested_at, anomalies FROM `+
		w.table("number_status_current")+where+` ORDER BY number`,
		func(rows driver.Rows, s *NumberState) error {
			var usable uint8
			err := rows.Scan(&s.Number, &s.Status, &s.Cause, &usable, &s.Since, &s.Anomalies)
			s.Usable = usable == 1
			s.Since = s.Since.UTC()
			return err
		})
}
