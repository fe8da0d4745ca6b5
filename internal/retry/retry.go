// Package retry is pnstream's one vocabulary for failures. An error is
// permanent when retrying cannot cure it (the data itself is bad: a row its
// columns cannot take, a recording the platform no longer has): the caller
// dead-letters the work. Every other error is transient and retried, with
// the backoff of a Policy, because giving up on good data would lose it.
//
// The backoff is cenkalti/backoff/v5's; this package fixes how pnstream
// configures it, so that every retry loop and every delayed redelivery
// waits the same way.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// ErrPermanent is matched, with errors.Is, by every error marked with
// Permanent and by error types of other packages that declare themselves
// permanent (an Is method reporting target == ErrPermanent).
var ErrPermanent = errors.New("permanent")

// Permanent marks err as permanent: IsPermanent(Permanent(err)) is true,
// and the message and chain of err are kept. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether retrying cannot cure err:
// errors.Is(err, ErrPermanent). It is false for nil.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// Do runs op until it succeeds, returns a permanent error, or ctx ends,
// waiting between attempts as p says; notify, if set, is called before each
// wait with the error and the wait. It returns nil, op's permanent error,
// or ctx's cause. There is no limit on attempts: a transient error is
// retried until ctx ends.
func Do(ctx context.Context, p Policy, op func() error, notify func(err error, next time.Duration)) error {
	attempt := func() (struct{}, error) {
		err := op()
		if IsPermanent(err) {
			return struct{}{}, backoff.Permanent(err) // Retry returns err itself
		}
		return struct{}{}, err
	}
	opts := []backoff.RetryOption{backoff.WithBackOff(p.BackOff()), backoff.WithMaxElapsedTime(0)}
	if notify != nil {
		opts = append(opts, backoff.WithNotify(notify))
	}
	_, err := backoff.Retry(ctx, attempt, opts...)
	return err
}
