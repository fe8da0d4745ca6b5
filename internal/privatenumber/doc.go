// Package privatenumber holds what pnstream knows of the Huawei Cloud Private
// Number platform in AXE mode: the call-event and fee-record (CDR) pushes as
// typed models, their tolerant decoding and validation, the identity of every
// record, the AKSK and legacy X-WSSE authentication schemes, and a client of
// the AXE API (bind, unbind, query v1 and v2, modify, binding count per X,
// recording URL).
//
// Apart from Client, which calls the platform over HTTPS, everything here is
// a plain function of its input: no I/O, no logging.
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
