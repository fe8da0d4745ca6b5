package archive

import (
	"errors"
	"time"
)

// ErrPermanent is matched by errors that no retry can cure: the recording
// is gone, too large, on a host not allowed, or the job is malformed.
var ErrPermanent = errors.New("permanent")

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// permanent marks err as not retryable.
func permanent(err error) error { return &permanentError{err} }

// ErrPaused is returned when the platform asked us to slow down (flow
// control): the job is retried after Pause without counting against it.
type pauseError struct {
	err   error
	pause time.Duration
}

func (e *pauseError) Error() string { return e.err.Error() }
func (e *pauseError) Unwrap() error { return e.err }
