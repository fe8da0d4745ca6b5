package main

import (
	"fmt"

	"github.com/pnstream/pnstream/internal/localserver"
)

var s3Command = newCommand(parseS3Flags, localserver.NewS3,
	func(cfg localserver.S3Config, s3 *localserver.S3) string {
		return fmt.Sprintf("s3 listening on %s (access key %s, health http://%s%s); data in %s",
			s3.Endpoint(), cfg.AccessKey, s3.Endpoint(), localserver.S3HealthPath, s3.Dir())
	})

// parseS3Flags reads the credentials from the pipeline's own variables,
// so that one pair configures both ends.
func parseS3Flags(args []string) (localserver.S3Config, error) {
	var cfg localserver.S3Config
	f := newEnvFlags("pnlocal s3", "PN_LOCAL_S3_")
	f.server(&cfg.Dir, ".local/s3", "buckets, object versions and logs",
		&cfg.Binary, "versitygw executable; empty: from PATH, else $GOBIN, else $GOPATH/bin or ~/go/bin", &cfg.StartTimeout)
	f.intVar(&cfg.Port, "port", "PN_LOCAL_S3_PORT", 17070, "S3 port on 127.0.0.1")
	f.stringVar(&cfg.AccessKey, "s3-access-key", "PN_S3_ACCESS_KEY", "",
		"access key of the gateway's only account; required")
	f.stringVar(&cfg.SecretKey, "s3-secret-key", "PN_S3_SECRET_KEY", "",
		"secret key of that account; required, never printed; prefer the variable, which ps does not show")
	return cfg, f.parse(args)
}
