package main

import (
	"flag"
	"fmt"

	"github.com/pnstream/pnstream/internal/localserver"
)

var clickHouseCommand = newCommand(parseClickHouseFlags, localserver.New,
	func(_ localserver.Config, ch *localserver.ClickHouse) string {
		return fmt.Sprintf("clickhouse listening on %s (native), %s (http); data in %s", ch.Addr(), ch.HTTPAddr(), ch.Dir())
	})

// clickHouseEnv names the environment variable of each flag.
var clickHouseEnv = []envFlag{
	{"dir", "PN_LOCAL_CLICKHOUSE_DIR"},
	{"tcp-port", "PN_LOCAL_CLICKHOUSE_TCP_PORT"},
	{"http-port", "PN_LOCAL_CLICKHOUSE_HTTP_PORT"},
	{"binary", "PN_LOCAL_CLICKHOUSE_BINARY"},
	{"start-timeout", "PN_LOCAL_CLICKHOUSE_START_TIMEOUT"},
}

func parseClickHouseFlags(args []string) (localserver.Config, error) {
	fs := flag.NewFlagSet("pnlocal clickhouse", flag.ContinueOnError)
	var cfg localserver.Config
	fs.StringVar(&cfg.Dir, "dir", ".local/clickhouse",
		"directory for config, data and logs (PN_LOCAL_CLICKHOUSE_DIR)")
	fs.IntVar(&cfg.TCPPort, "tcp-port", 19000,
		"native protocol port on 127.0.0.1 (PN_LOCAL_CLICKHOUSE_TCP_PORT)")
	fs.IntVar(&cfg.HTTPPort, "http-port", 18123,
		"HTTP port on 127.0.0.1 (PN_LOCAL_CLICKHOUSE_HTTP_PORT)")
	fs.StringVar(&cfg.Binary, "binary", "",
		"clickhouse-server executable; empty: from PATH, else "+localserver.DefaultBinaryPath+" (PN_LOCAL_CLICKHOUSE_BINARY)")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", localserver.DefaultStartTimeout,
		"how long to wait for the server to answer (PN_LOCAL_CLICKHOUSE_START_TIMEOUT)")
	err := parse(fs, args, clickHouseEnv)
	return cfg, err
}
