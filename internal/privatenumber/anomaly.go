package privatenumber

// Anomaly is a field of a record that is not as documented but does not
// refuse the record: only identity fields refuse (DESIGN.md). The record
// is stored as sent (its raw JSON untouched) and the anomaly is counted
// (pn_ingest_field_anomalies_total{field,kind}) and kept on the row.
type Anomaly struct {
	// Field is the documented field's JSON name, e.g. "callInTime" or
	// "statusInfo.callRelDirection": never a name taken from the body, so
	// that the metric's label values stay bounded.
	Field string
	// Kind is one of the Anomaly* constants.
	Kind string
}

// String is "field:kind", the form stored in the rows' anomalies column.
func (a Anomaly) String() string { return a.Field + ":" + a.Kind }

// Kinds of Anomaly.
const (
	// AnomalyMissing: a field the platform documents as always present is
	// absent (a CDR without callInTime; its typed column is derived).
	AnomalyMissing = "missing"
	// AnomalyType: the value has another JSON type than documented (a
	// number where a string is documented is stored as its text; a value
	// no integer column can take leaves the typed column at its zero).
	AnomalyType = "type"
	// AnomalyRange: an enumeration or integer outside its documented range
	// (direction 7, recordFlag 2), stored as given where its column can
	// hold it.
	AnomalyRange = "range"
	// AnomalyFormat: a time that does not parse in any documented format;
	// its typed column is NULL.
	AnomalyFormat = "format"
	// AnomalyUnknown: a value of an enumeration pnstream does not know
	// (an eventType beyond the documented call events).
	AnomalyUnknown = "unknown"
)
