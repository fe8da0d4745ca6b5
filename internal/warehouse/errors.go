package warehouse

import (
	"errors"
	"fmt"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/pnstream/pnstream/internal/retry"
)

// Errors of this package that retrying cannot fix, because the data itself
// is bad (a row that cannot be converted to its columns, a server exception
// about the values sent), are permanent in the sense of package retry:
// retry.IsPermanent reports them, and the caller dead-letters such records.
//
// Every other error is transient: the server is down, slow, overloaded or
// not migrated yet, the network failed, or the context ended. Those are
// retried, because giving up on good data would lose it. Errors that need an
// operator (wrong password, missing column) are transient too: the records
// are fine and must survive until the operator fixes the deployment.

// RowError says which row of a batch could not be stored. It is permanent:
// the caller drops or dead-letters that record and inserts the others.
type RowError struct {
	// Index is the row's position in the slice given to the insert.
	Index int
	// ID is the row's identity (icid, event message id), for logs.
	ID  string
	Err error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("row %d (%s): %v", e.Index, e.ID, e.Err)
}

func (e *RowError) Unwrap() error        { return e.Err }
func (e *RowError) Is(target error) bool { return target == retry.ErrPermanent }

// BadRows returns the indexes of the rows that err blames, in the order the
// errors were found, or nil when it blames none (a transient error, or a
// permanent server exception about the batch as a whole).
func BadRows(err error) []int {
	var idx []int
	walk(err, func(e error) {
		if re, ok := e.(*RowError); ok {
			idx = append(idx, re.Index)
		}
	})
	return idx
}

// walk calls fn on err and every error in its tree, depth first.
func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	}
}

// permanentCodes are the server exceptions that blame the data sent: parsing
// and converting values, sizes and ranges. Retrying the same rows gives the
// same answer.
var permanentCodes = map[proto.Error]bool{
	proto.ErrCannotParseText:                  true,
	proto.ErrCannotParseEscapeSequence:        true,
	proto.ErrCannotParseQuotedString:          true,
	proto.ErrCannotParseInputAssertionFailed:  true,
	proto.ErrCannotParseDate:                  true,
	proto.ErrCannotParseDatetime:              true,
	proto.ErrCannotParseNumber:                true,
	proto.ErrCannotParseUUID:                  true,
	proto.ErrCannotParseDomainValueFromString: true,
	proto.ErrCannotParseBool:                  true,
	proto.ErrTypeMismatch:                     true,
	proto.ErrCannotConvertType:                true,
	proto.ErrArgumentOutOfBound:               true,
	proto.ErrValueIsOutOfRangeOfDataType:      true,
	proto.ErrTooLargeStringSize:               true,
	proto.ErrTooLargeArraySize:                true,
	proto.ErrIncorrectData:                    true,
	proto.ErrCannotInsertNullInOrdinaryColumn: true,
}

// classify marks err permanent when it is a server exception that blames
// the data. Everything else is left transient, in particular what was seen
// on ClickHouse 18.16 with clickhouse-go v2.51.0:
//
//   - a server that is down: PrepareBatch fails to dial, "dial tcp ...:
//     connect: connection refused" (*net.OpError wrapping
//     syscall.ECONNREFUSED); one shutting down or dying under a pooled
//     connection gives "connection reset by peer" (ECONNRESET) while reading
//     the first block or the handshake, or EOF;
//   - timeouts (os.ErrDeadlineExceeded, context.DeadlineExceeded) and
//     context cancellation;
//   - clickhouse.ErrAcquireConnTimeout when the pool is exhausted;
//   - exceptions such as TOO_MANY_SIMULTANEOUS_QUERIES, TOO_MANY_PARTS,
//     MEMORY_LIMIT_EXCEEDED, TIMEOUT_EXCEEDED, NETWORK_ERROR,
//     SOCKET_TIMEOUT, TABLE_IS_READ_ONLY, and UNKNOWN_TABLE or
//     UNKNOWN_DATABASE (Migrate has not run yet).
//
// Over the native protocol the driver converts values before sending, so a
// bad value fails Append (see insertRows) rather than the server; the
// exceptions above matter for statements the server parses.
func classify(err error) error {
	if err == nil || retry.IsPermanent(err) {
		return err
	}
	if ex, ok := errors.AsType[*clickhouse.Exception](err); ok && permanentCodes[proto.Error(ex.Code)] {
		return retry.Permanent(err)
	}
	return err
}

// ExceptionCode returns the ClickHouse server exception code in err's chain
// and true, or 0 and false when the error did not come from the server.
func ExceptionCode(err error) (int32, bool) {
	if ex, ok := errors.AsType[*clickhouse.Exception](err); ok {
		return ex.Code, true
	}
	return 0, false
}
