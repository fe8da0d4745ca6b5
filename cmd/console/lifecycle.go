package main

import (
	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// lifecycle wires the officer's operations (legal holds, case export,
// erasure) into deps.
func lifecycle(deps *console.Deps, wh *warehouse.Warehouse, s3 *minio.Client, cfg config) {}
