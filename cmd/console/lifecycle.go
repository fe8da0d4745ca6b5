package main

import (
	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// lifecycle wires the officer's operations (legal holds, case export,
// erasure) into deps.
func lifecycle(deps *console.Deps, wh *warehouse.Warehouse, s3 *minio.Client, cfg config) {
	deps.Holds = console.HoldsOf(holds.New(s3, cfg.s3.Bucket, wh))
	deps.Exporter = console.ExporterOf(casefile.NewSource(wh, s3, cfg.s3.Bucket))
}
