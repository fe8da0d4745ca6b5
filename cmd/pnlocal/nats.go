package main

import (
	"flag"
	"fmt"

	"github.com/pnstream/pnstream/internal/localserver"
)

var natsCommand = newCommand(parseNATSFlags, localserver.NewNATS,
	func(_ localserver.NATSConfig, ns *localserver.NATS) string {
		monitor := ""
		if u := ns.MonitorURL(); u != "" {
			monitor = " (monitoring " + u + ")"
		}
		return fmt.Sprintf("nats listening on %s%s; data in %s", ns.URL(), monitor, ns.Dir())
	})

// natsEnv names the environment variable of each flag.
var natsEnv = []envFlag{
	{"dir", "PN_LOCAL_NATS_DIR"},
	{"port", "PN_LOCAL_NATS_PORT"},
	{"monitor-port", "PN_LOCAL_NATS_MONITOR_PORT"},
	{"sync-interval", "PN_LOCAL_NATS_SYNC_INTERVAL"},
	{"binary", "PN_LOCAL_NATS_BINARY"},
	{"start-timeout", "PN_LOCAL_NATS_START_TIMEOUT"},
}

func parseNATSFlags(args []string) (localserver.NATSConfig, error) {
	fs := flag.NewFlagSet("pnlocal nats", flag.ContinueOnError)
	cfg := localserver.NATSConfig{Name: "pn-local"}
	fs.StringVar(&cfg.Dir, "dir", ".local/nats",
		"directory for nats.conf, the JetStream store and logs (PN_LOCAL_NATS_DIR)")
	fs.IntVar(&cfg.Port, "port", 14222,
		"client port on 127.0.0.1 (PN_LOCAL_NATS_PORT)")
	fs.IntVar(&cfg.MonitorPort, "monitor-port", 18222,
		"HTTP monitoring port on 127.0.0.1, 0 for none (PN_LOCAL_NATS_MONITOR_PORT)")
	fs.StringVar(&cfg.SyncInterval, "sync-interval", "",
		"JetStream sync_interval: always, a duration, or empty for nats-server's default, 2m (PN_LOCAL_NATS_SYNC_INTERVAL)")
	fs.StringVar(&cfg.Binary, "binary", "",
		"nats-server executable to run, such as bin/nats-server; empty: embedded in pnlocal (PN_LOCAL_NATS_BINARY)")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", localserver.DefaultStartTimeout,
		"how long to wait for the server to answer (PN_LOCAL_NATS_START_TIMEOUT)")
	err := parse(fs, args, natsEnv)
	return cfg, err
}
