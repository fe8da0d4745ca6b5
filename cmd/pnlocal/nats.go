package main

import (
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

func parseNATSFlags(args []string) (localserver.NATSConfig, error) {
	cfg := localserver.NATSConfig{Name: "pn-local"}
	f := newEnvFlags("pnlocal nats", "PN_LOCAL_NATS_")
	f.server(&cfg.Dir, ".local/nats", "nats.conf, the JetStream store and logs",
		&cfg.Binary, "nats-server executable to run, such as bin/nats-server; empty: embedded in pnlocal", &cfg.StartTimeout)
	f.intVar(&cfg.Port, "port", "PN_LOCAL_NATS_PORT", 14222, "client port on 127.0.0.1")
	f.intVar(&cfg.MonitorPort, "monitor-port", "PN_LOCAL_NATS_MONITOR_PORT", 18222, "HTTP monitoring port on 127.0.0.1, 0 for none")
	f.stringVar(&cfg.SyncInterval, "sync-interval", "PN_LOCAL_NATS_SYNC_INTERVAL", "",
		"JetStream sync_interval: always, a duration, or empty for nats-server's default, 2m")
	return cfg, f.parse(args)
}
