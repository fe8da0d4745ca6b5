package main

import (
	"flag"
	"fmt"

	"github.com/pnstream/pnstream/internal/localserver"
)

var s3Command = newCommand(parseS3Flags, localserver.NewS3,
	func(cfg localserver.S3Config, s3 *localserver.S3) string {
		return fmt.Sprintf("s3 listening on %s (access key %s, health http://%s%s); data in %s",
			s3.Endpoint(), cfg.AccessKey, s3.Endpoint(), localserver.S3HealthPath, s3.Dir())
	})

// s3Env names the environment variable of each flag. The credentials are
// the pipeline's own variables, so that one pair configures both ends.
var s3Env = []envFlag{
	{"dir", "PN_LOCAL_S3_DIR"},
	{"port", "PN_LOCAL_S3_PORT"},
	{"s3-access-key", "PN_S3_ACCESS_KEY"},
	{"s3-secret-key", "PN_S3_SECRET_KEY"},
	{"binary", "PN_LOCAL_S3_BINARY"},
	{"start-timeout", "PN_LOCAL_S3_START_TIMEOUT"},
}

func parseS3Flags(args []string) (localserver.S3Config, error) {
	fs := flag.NewFlagSet("pnlocal s3", flag.ContinueOnError)
	var cfg localserver.S3Config
	fs.StringVar(&cfg.Dir, "dir", ".local/s3",
		"directory for buckets, object versions and logs (PN_LOCAL_S3_DIR)")
	fs.IntVar(&cfg.Port, "port", 17070,
		"S3 port on 127.0.0.1 (PN_LOCAL_S3_PORT)")
	fs.StringVar(&cfg.AccessKey, "s3-access-key", "",
		"access key of the gateway's only account; required (PN_S3_ACCESS_KEY)")
	fs.StringVar(&cfg.SecretKey, "s3-secret-key", "",
		"secret key of that account; required, never printed; prefer the variable, which ps does not show (PN_S3_SECRET_KEY)")
	fs.StringVar(&cfg.Binary, "binary", "",
		"versitygw executable; empty: from PATH, else $GOBIN, else $GOPATH/bin or ~/go/bin (PN_LOCAL_S3_BINARY)")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", localserver.DefaultStartTimeout,
		"how long to wait for the gateway to answer (PN_LOCAL_S3_START_TIMEOUT)")
	err := parse(fs, args, s3Env)
	return cfg, err
}
