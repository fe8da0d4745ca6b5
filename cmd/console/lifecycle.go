package main

import (
	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// streamsNote is what an erasure report says of the JetStream streams,
// which the console does not reach.
const streamsNote = "the JetStream streams keep the pushes as received until their age limit (PN_STREAM_MAX_AGE, PN_STREAM_REJECTED_MAX_AGE)"

// lifecycle wires the officer's operations (legal holds, case export,
// erasure) into deps.
func lifecycle(deps *console.Deps, wh *warehouse.Warehouse, s3 *minio.Client, bucket string, policy pii.Policy, log *audit.Log) {
	h := holds.New(s3, bucket, wh)
	deps.Holds = console.HoldsOf(h)
	deps.Exporter = console.ExporterOf(casefile.NewSource(wh, s3, bucket))
	deps.Eraser = console.EraserOf(erasure.New(wh, h, policy, log, streamsNote))
}
