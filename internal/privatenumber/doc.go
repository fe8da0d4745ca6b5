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
// Decoding follows the platform reference, which is incomplete in places, so
// it is tolerant where the reference is unsure: unknown keys are ignored,
// integer fields may arrive as JSON numbers or numeric strings, the extension
// may be named extendNum or extendNumber, and subscriptionId and recordDomain
// may be empty. It is strict where pnstream depends on a field: the identity
// fields and times must be present and well formed.
package privatenumber
