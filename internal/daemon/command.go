package daemon

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
)

// Command is how a long-running pnstream process starts: it reads its
// settings, builds its logger, then runs until SIGINT or SIGTERM. Every
// main is one Command, so they all start, log and exit the same way.
type Command[C any] struct {
	// Name names the process in its logger and its exit message.
	Name string
	// Parse reads the settings from the arguments and the PN_* variables
	// (Parse of this package); -help returns flag.ErrHelp.
	Parse func(args []string) (C, error)
	// Log picks the log settings out of the settings.
	Log func(C) LogConfig
	// Run runs until ctx is done, then shuts down and returns.
	Run func(ctx context.Context, cfg C, log *zap.Logger) error
	// Removed are variables the process no longer reads, each with what
	// replaced it: one that is still set is logged as a warning at start
	// rather than silently ignored.
	Removed map[string]string
}

// Main starts c with the process's arguments, stops it on SIGINT or
// SIGTERM, and exits with its outcome. Call it once, from main.
func Main[C any](c Command[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.Start(ctx, os.Args[1:])
	stop()
	Exit(c.Name, err)
}

// Start reads the settings from args, builds the logger and runs c until
// ctx is done. -help prints the usage and returns nil.
func (c Command[C]) Start(ctx context.Context, args []string) error {
	cfg, err := c.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := NewLogger(c.Log(cfg), c.Name)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	c.warnRemoved(log)
	return c.Run(ctx, cfg, log)
}

// warnRemoved logs each of c.Removed that is still set.
func (c Command[C]) warnRemoved(log *zap.Logger) {
	for name, instead := range c.Removed {
		if os.Getenv(name) != "" {
			log.Warn("setting no longer read", zap.String("variable", name), zap.String("instead", instead))
		}
	}
}
