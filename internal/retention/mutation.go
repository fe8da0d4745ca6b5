package retention

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Delete deletes the rows of db.table that match where (with args bound
// to its ? placeholders) by an ALTER TABLE ... DELETE mutation, the way
// ClickHouse deletes rows on every version from 18.16, and waits until
// the mutation is done, so that the rows are gone when it returns. It
// counts the rows first and issues no mutation when none matches (a
// mutation rewrites every part of the table). It returns the rows deleted
// (stored copies, before ReplacingMergeTree collapsed them).
func Delete(ctx context.Context, conn driver.Conn, db, table, where string, args ...any) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table+" WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows to delete from %s: %w", table, err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+db+"."+table+" DELETE WHERE "+where, args...); err != nil {
		return 0, fmt.Errorf("delete from %s: %w", table, err)
	}
	if err := waitMutations(ctx, conn, db, table); err != nil {
		return 0, err
	}
	return n, nil
}

// waitMutations returns once db.table has no mutation left to do. 18.16
// has no mutations_sync setting, so it polls system.mutations.
func waitMutations(ctx context.Context, conn driver.Conn, db, table string) error {
	wait := 20 * time.Millisecond
	for {
		var pending uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0", db, table).Scan(&pending)
		if err != nil {
			return fmt.Errorf("wait for the mutations of %s: %w", table, err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the mutations of %s: %w", table, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Placeholders returns n bound parameters, "?, ?, ?", for an IN list
// (clickhouse-go binds a slice as an array, which IN does not take); with
// n 0 it returns "”", an IN list that matches nothing but the empty
// string, never present where it is used.
func Placeholders(n int) string {
	if n == 0 {
		return "''"
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Args returns vals as bound parameters.
func Args(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}
