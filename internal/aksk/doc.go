// Package aksk signs and verifies the Private Number platform's AKSK
// authentication (the X-AKSK header, and the legacy X-WSSE one): a
// UsernameToken whose PasswordDigest is keyed by the app secret over the
// token's Nonce and Created (HMAC-SHA256; a plain SHA-256 for X-WSSE).
//
// It stands apart because both directions use the one scheme: the platform
// signs the pushes ingest receives (Verifier), and pnstream signs its calls
// to the platform's API (Signer, used by axeapi). The signature covers the
// nonce and the time, never the body, so a Verifier's only defences against
// a replayed token are its Created window and its memory of recent nonces.
//
// No I/O and no logging; the secret never appears in an error or a String.
package aksk
