package archive

import "time"

// pauseError is returned when the platform asked us to slow down (flow
// control): the job is retried after pause without counting against it.
// Errors that no retry can cure (the recording is gone, too large, on a
// host not allowed, or the job is malformed) are retry.Permanent.
type pauseError struct {
	err   error
	pause time.Duration
}

func (e *pauseError) Error() string { return e.err.Error() }
func (e *pauseError) Unwrap() error { return e.err }
