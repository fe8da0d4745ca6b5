package main

import (
	"fmt"

	"github.com/pnstream/pnstream/internal/localserver"
)

var clickHouseCommand = newCommand(parseClickHouseFlags, localserver.New,
	func(_ localserver.Config, ch *localserver.ClickHouse) string {
		return fmt.Sprintf("clickhouse listening on %s (native), %s (http); data in %s", ch.Addr(), ch.HTTPAddr(), ch.Dir())
	})

func parseClickHouseFlags(args []string) (localserver.Config, error) {
	var cfg localserver.Config
	f := newEnvFlags("pnlocal clickhouse", "PN_LOCAL_CLICKHOUSE_")
	f.server(&cfg.Dir, ".local/clickhouse", "config, data and logs",
		&cfg.Binary, "clickhouse-server executable; empty: from PATH, else "+localserver.DefaultBinaryPath, &cfg.StartTimeout)
	f.intVar(&cfg.TCPPort, "tcp-port", "PN_LOCAL_CLICKHOUSE_TCP_PORT", 19000, "native protocol port on 127.0.0.1")
	f.intVar(&cfg.HTTPPort, "http-port", "PN_LOCAL_CLICKHOUSE_HTTP_PORT", 18123, "HTTP port on 127.0.0.1")
	return cfg, f.parse(args)
}
