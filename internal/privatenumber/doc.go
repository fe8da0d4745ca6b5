// Package privatenumber holds what pnstream knows of the pushes of the
// Huawei Cloud Private Number platform in AXE mode: the call-event, fee-record
// (CDR) and X-number-status pushes as typed models, their tolerant decoding
// and validation, and the identity of every record. Verifying a push's AKSK
// headers is package aksk's job; calling the platform, package axeapi's.
//
// Everything here is a plain function of its input: no I/O, no logging.
//
// Decoding follows DESIGN.md's tolerance: only a record's identity (a CDR's
// icid and sessionId; an event's eventType, sessionId and timestamp) can
// refuse it. Every other field is read leniently and stored as sent: unknown
// keys are ignored, integers may arrive as JSON numbers or numeric strings,
// a number where a string is documented is kept as its text, an integer or
// time that cannot be read leaves its typed field absent, a CDR without
// callInTime takes its earliest other time, and each value not as documented
// is an Anomaly of the record, counted by ingest and kept on its row.
package privatenumber
