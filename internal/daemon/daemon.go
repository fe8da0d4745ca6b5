// Package daemon holds what every pnstream command shares: reading flags
// and their PN_* environment variables, the logger, and serving HTTP until
// shutdown (Serve, AfterDone), so that each command stops the same way.
package daemon

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EnvPrefix is the prefix of every environment variable: flag
// "nats-url" is PN_NATS_URL.
const EnvPrefix = "PN"

// Parse parses args into fs; every flag can also be set by its PN_*
// variable, flags winning. The usage lists each flag with its variable.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage of %s (every flag is also read from the environment variable shown):\n", fs.Name())
		fs.VisitAll(func(f *flag.Flag) {
			env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			fmt.Fprintf(out, "  -%s  (%s)\n    \t%s", f.Name, env, f.Usage)
			if f.DefValue != "" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	return ff.Parse(fs, args, ff.WithEnvVarPrefix(EnvPrefix))
}

// LogConfig selects the log level and format.
type LogConfig struct {
	// Level is debug, info, warn or error. PN_LOG_LEVEL, default info.
	Level string
	// Format is json (production) or console. PN_LOG_FORMAT, default json.
	Format string
}

// RegisterFlags binds the fields to flags on fs.
func (c *LogConfig) RegisterFlags(fs *flag.FlagSet) {
	if c.Level == "" {
		c.Level = "info"
	}
	if c.Format == "" {
		c.Format = "json"
	}
	fs.StringVar(&c.Level, "log-level", c.Level, "log level: debug, info, warn, error")
	fs.StringVar(&c.Format, "log-format", c.Format, "log format: json or console")
}

// NewLogger builds the process logger, writing to stderr.
func NewLogger(c LogConfig, name string) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	zc := zap.NewProductionConfig()
	switch c.Format {
	case "json":
	case "console":
		zc.Encoding = "console"
		zc.EncoderConfig = zap.NewDevelopmentEncoderConfig()
	default:
		return nil, fmt.Errorf("log format %q: want json or console", c.Format)
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.EncoderConfig.TimeKey = "ts"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.OutputPaths = []string{"stderr"}
	zc.Sampling = nil // every refused push is worth a line
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return log.Named(name), nil
}

// Exit prints err and exits 1, or exits 0 for nil. Call it once, from main.
func Exit(name string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}
