package warehouse

import (
	"errors"
	"syscall"
	"testing"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/pnstream/pnstream/internal/retry"
)

// TestInsertWhileServerDown stops the server under an open Warehouse: every
// insert must fail with a transient error (the records are fine, the
// recorder must retry them), and the same Warehouse must work again once
// the server is back, without being reopened. It stops the shared server,
// so no test of this package may run in parallel with it.
func TestInsertWhileServerDown(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	fees := benchFees(10, 0)
	if err := w.InsertFees(ctx, fees); err != nil {
		t.Fatal(err)
	}

	chServer.Stop(t)
	// The first attempt may use a pooled connection the server closed (EOF,
	// connection reset); later ones dial and are refused.
	var refused bool
	for i := range 3 {
		err := w.InsertFees(ctx, fees)
		if err == nil {
			t.Fatalf("attempt %d: insert succeeded with the server down", i)
		}
		if retry.IsPermanent(err) {
			t.Errorf("attempt %d: %v is classified permanent, want transient", i, err)
		}
		refused = refused || errors.Is(err, syscall.ECONNREFUSED)
		t.Logf("attempt %d: %v", i, err)
	}
	if !refused {
		t.Error("no attempt was refused: the server did not look down")
	}
	if err := w.InsertEvents(ctx, nil); err != nil {
		t.Errorf("an empty batch needs no server: %v", err)
	}
	if err := w.Ping(ctx); err == nil || retry.IsPermanent(err) {
		t.Errorf("Ping with the server down = %v, want a transient error", err)
	}
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database = chServer.Addr(), w.db
	if w2, err := Open(ctx, cfg); err == nil {
		t.Errorf("Open with the server down succeeded")
		_ = w2.Close()
	} else if retry.IsPermanent(err) {
		t.Errorf("Open with the server down = %v, want transient", err)
	}

	chServer.Start(t)
	if err := w.InsertFees(ctx, benchFees(10, 1)); err != nil {
		t.Fatalf("insert after the server came back: %v", err)
	}
	var n uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.table("fee_records")+" FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Errorf("%d rows after the outage, want 20", n)
	}
}

// TestServerExceptions checks the classification of real exceptions of the
// server: an unmigrated database is transient (run Migrate, retry), a value
// the server cannot parse is permanent.
func TestServerExceptions(t *testing.T) {
	w := openTest(t) // not migrated
	ctx := testContext(t)

	err := w.InsertFees(ctx, benchFees(1, 0))
	code, ok := ExceptionCode(err)
	if !ok || (proto.Error(code) != proto.ErrUnknownTable && proto.Error(code) != proto.ErrUnknownDatabase) {
		t.Errorf("insert before Migrate = %v, want UNKNOWN_TABLE", err)
	}
	if retry.IsPermanent(err) {
		t.Errorf("insert before Migrate is permanent: %v", err)
	}

	err = classify(w.conn.Exec(ctx, "SELECT toDateTime('2019-01-24 3:33')"))
	if code, _ := ExceptionCode(err); proto.Error(code) != proto.ErrCannotParseDatetime && proto.Error(code) != proto.ErrCannotParseText {
		t.Errorf("parsing a bad DateTime = %v, want CANNOT_PARSE_DATETIME", err)
	}
	if !retry.IsPermanent(err) {
		t.Errorf("a bad DateTime is transient: %v", err)
	}
}
