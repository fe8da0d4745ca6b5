// Package axeapi is a client of the Private Number platform's AXE API: bind,
// unbind, query (v1, and v2 paged over one X), modify, the binding count per
// X, and a recording's download URL. Each call is signed with aksk's Signer
// and its result code mapped to an *APIError that matches a category
// sentinel (ErrFlowControl, ErrNotFound, ...) with errors.Is.
//
// It stands apart from privatenumber, whose push models do no I/O: this is
// pnstream's side of the platform's API, over HTTPS. Answers are decoded
// leniently, as the pushes are, with privatenumber's Int.
package axeapi
