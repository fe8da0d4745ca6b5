// Command bento is Bento 1.20.0 (MIT, github.com/warpstreamlabs/bento) built
// with only the components pnbench's peers stage runs: http_server,
// nats_jetstream, the pure processors and sql_insert with the ClickHouse
// driver. It is a module of its own so that pnstream's go.mod stays free of
// Bento's dependency tree; `make bin/bento` builds it.
package main

import (
	"context"

	"github.com/warpstreamlabs/bento/public/service"

	_ "github.com/warpstreamlabs/bento/public/components/io"
	_ "github.com/warpstreamlabs/bento/public/components/nats"
	_ "github.com/warpstreamlabs/bento/public/components/pure"
	_ "github.com/warpstreamlabs/bento/public/components/sql/base"

	_ "github.com/ClickHouse/clickhouse-go/v2"
)

func main() {
	service.RunCLI(context.Background())
}
