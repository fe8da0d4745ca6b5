package retention_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/retention"
)

// dayCalls is "a day" of traffic: the simulator's default rate (2 calls a
// second, SIM_CALL_RATE, what make run generates) for 24 hours. Override
// with PN_DAY_CALLS.
const dayCalls = 2 * 86400

// dayObjectBytes is the size of each simulated recording object. S3's cost
// of a delete is per object, not per byte, so the objects are small.
const dayObjectBytes = 1024

// BenchmarkLifecycleDay measures erasure and retention on a day of
// simulated traffic (platformsim's call generator: its mix of outcomes and
// recorded calls, on 500 bindings), stored as the recorder stores it under
// PN_PII_MODE=hmac, with every recorded call's object in an object-locked
// bucket and one call under legal hold. It erases the A number of one
// binding, then runs retention with the day just expired (the mutation
// path: the day's month holds later rows too). Run it with
//
//	go test -run '^$' -bench LifecycleDay -benchtime 1x ./internal/retention/
//
// It reports calls, rows and objects removed and the seconds each step took.
func BenchmarkLifecycleDay(b *testing.B) {
	calls := dayCalls
	if s := os.Getenv("PN_DAY_CALLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("PN_DAY_CALLS=%q: want a positive number", s)
		}
		calls = n
	}
	for range b.N {
		runDay(b, calls)
	}
}

func runDay(b *testing.B, calls int) {
	ctx := b.Context()
	f := newFixture(b)
	policy, err := pii.New(pii.ModeHMAC, []byte(strings.Repeat("day-key-", 4)))
	if err != nil {
		b.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := today.AddDate(0, 0, -31) // expired under RowsDays 30, in the same month as the cutoff or the one before

	gen := platformsim.NewCallGenerator(platformsim.CallConfig{Seed: 15, AppKey: "Zp3yQ0vM4kE7uR9tW2xB6nC1dF8gH5jL", SpID: "sp_day", RecordDomain: "ostor.pnsim.local"})
	bindings := make([]platformsim.Binding, 500)
	for i := range bindings {
		bindings[i] = platformsim.Binding{SubscriptionID: fmt.Sprintf("day-sub-%04d", i), VirtualNum: fmt.Sprintf("+861700000%04d", i%50),
			BindNum: fmt.Sprintf("+861380000%04d", i), ExtendNum: fmt.Sprintf("%04d", i), DisplayNumMode: "0", RecordFlag: i%2 == 0, TimeUnit: "0"}
	}
	start := time.Now()
	var (
		fees   []privatenumber.FeeRecord
		events []privatenumber.CallEvent
		recs   []recording.Row
		keys   []string
		stored struct{ fees, events int }
	)
	flush := func(force bool) {
		if len(fees) >= 20000 || force {
			if err := f.w.InsertFees(ctx, fees); err != nil {
				b.Fatal(err)
			}
			stored.fees += len(fees)
			fees = fees[:0]
		}
		if len(events) >= 50000 || force {
			if err := f.w.InsertEvents(ctx, events); err != nil {
				b.Fatal(err)
			}
			stored.events += len(events)
			events = events[:0]
		}
	}
	step := 86400 * time.Second / time.Duration(calls)
	var heldICID string
	for i := range calls {
		call, _ := gen.Next(bindings, day.Add(time.Duration(i)*step+time.Minute))
		fee, err := privatenumber.DecodeFeeRecord(call.Fee)
		if err != nil {
			b.Fatal(err)
		}
		fee = policy.Fee(fee)
		fees = append(fees, fee)
		for _, ev := range call.Events {
			e, err := privatenumber.DecodeCallEvent(ev.Body)
			if err != nil {
				b.Fatal(err)
			}
			events = append(events, policy.Event(e))
		}
		if call.Recording != nil {
			key := retention.ObjectKeyPrefix(fee.CallInTime.Time) + fee.ICID + ".wav"
			keys = append(keys, key)
			recs = append(recs, recording.Row{ICID: fee.ICID, SessionID: fee.SessionID, Bucket: f.bucket, ObjectKey: key,
				SizeBytes: dayObjectBytes, SHA256: sum(audioBytes), ContentType: "audio/wav", Status: recording.Archived})
			if heldICID == "" {
				heldICID = fee.ICID
			}
		}
		flush(false)
	}
	flush(true)
	if err := f.w.InsertRecordings(ctx, recs); err != nil {
		b.Fatal(err)
	}
	putAll(b, f, keys)
	b.Logf("seeded %d calls (%d CDRs, %d events, %d recordings) in %s", calls, stored.fees, stored.events, len(keys), time.Since(start).Round(time.Second))
	if _, err := f.h.Put(ctx, heldICID, "bench", "a held call in the day"); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	t0 := time.Now()
	er := erasure.New(f.w, f.h, policy, audit.New(f.w), "bench")
	rep, err := er.Erase(ctx, bindings[8].BindNum, false, "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	eraseTime := time.Since(t0)
	b.Logf("erasure: %s in %s", rep.Summary(), eraseTime.Round(time.Millisecond))

	// Rows, then recordings: two runs, so that each step's time shows.
	t0 = time.Now()
	rowsOnly := retention.Config{RowsDays: 30, Interval: time.Hour, Lease: time.Hour}
	rr, err := retention.New(rowsOnly, f.w, f.h).Once(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rowsTime := time.Since(t0)
	b.Logf("retention of rows: %s", rr.Summary())
	var rows uint64
	for _, t := range rr.Tables {
		rows += t.DroppedRows + t.DeletedRows
	}
	t0 = time.Now()
	recsOnly := retention.Config{RecordingsDays: 30, Interval: time.Hour, Lease: time.Hour}
	rr, err = retention.New(recsOnly, f.w, f.h).Once(ctx)
	if err != nil {
		b.Fatal(err)
	}
	recsTime := time.Since(t0)
	b.StopTimer()
	b.Logf("retention of recordings: %s", rr.Summary())
	for _, t := range rr.Tables {
		rows += t.DroppedRows + t.DeletedRows
	}
	b.ReportMetric(float64(calls), "calls")
	b.ReportMetric(float64(rep.CDRs+rep.Events+rep.RecordingRows), "erase-rows")
	b.ReportMetric(float64(rep.Recordings), "erase-objects")
	b.ReportMetric(eraseTime.Seconds(), "erase-s")
	b.ReportMetric(float64(rows), "retention-rows")
	b.ReportMetric(float64(rr.RecordingsRemoved), "retention-objects")
	b.ReportMetric(float64(rr.RecordingsHeld), "retention-held")
	b.ReportMetric(rowsTime.Seconds(), "retention-rows-s")
	b.ReportMetric(recsTime.Seconds(), "retention-objects-s")
}

var audioBytes = bytes.Repeat([]byte{0x55}, dayObjectBytes)

// putAll stores the objects with 8 uploads at a time, as the mirror's
// workers would have over the day.
func putAll(b *testing.B, f *fixture, keys []string) {
	b.Helper()
	var wg sync.WaitGroup
	work := make(chan string)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				_, err := f.c.PutObject(b.Context(), f.bucket, k, bytes.NewReader(audioBytes), dayObjectBytes, minio.PutObjectOptions{SendContentMd5: true})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
