package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

// natsMaxMemory is JetStream's memory storage cap, for -stream-storage
// memory.
const natsMaxMemory = 1 << 30

// servers are the real servers a run measures against, all on loopback,
// started by internal/localserver.
type servers struct {
	nats       *localserver.NATS
	clickhouse *localserver.ClickHouse
	s3         *localserver.S3
	s3Access   string
	s3Secret   string
}

// startServers starts NATS (the nats-server binary as a child process when
// natsBin is set, else embedded), ClickHouse and the S3 gateway in
// subdirectories of dir, on free ports. needCH and needS3 say which of
// ClickHouse and S3 the chosen stages use. The returned servers are
// stopped by close, also on error.
func startServers(ctx context.Context, dir, natsBin string, needCH, needS3 bool) (*servers, error) {
	s := &servers{}
	var err error
	s.nats, err = localserver.StartNATS(ctx, localserver.NATSConfig{
		Dir: filepath.Join(dir, "nats"), Name: "pnbench", Binary: natsBin, MaxMemoryStore: natsMaxMemory,
	})
	if err != nil {
		return s, err
	}
	if needCH {
		if s.clickhouse, err = localserver.StartClickHouse(ctx, localserver.Config{Dir: filepath.Join(dir, "clickhouse")}); err != nil {
			return s, err
		}
	}
	if needS3 {
		s.s3Access, s.s3Secret = "bench-"+rand.Text()[:12], rand.Text()
		if s.s3, err = localserver.StartS3(ctx, localserver.S3Config{
			Dir: filepath.Join(dir, "s3"), AccessKey: s.s3Access, SecretKey: s.s3Secret,
		}); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *servers) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if s.s3 != nil {
		errs = append(errs, s.s3.Stop(ctx))
	}
	if s.clickhouse != nil {
		errs = append(errs, s.clickhouse.Stop(ctx))
	}
	if s.nats != nil {
		errs = append(errs, s.nats.Stop(ctx))
	}
	return errors.Join(errs...)
}

// pids returns the process id of each server running as a process of its
// own, by executable name, for their CPU time.
func (s *servers) pids() map[string]int {
	pids := map[string]int{}
	add := func(name string, pid int) {
		if pid != 0 { // 0: not running, or NATS embedded in this process
			pids[name] = pid
		}
	}
	if s.nats != nil {
		add("nats-server", s.nats.Pid())
	}
	if s.clickhouse != nil {
		add("clickhouse-server", s.clickhouse.Pid())
	}
	if s.s3 != nil {
		add("versitygw", s.s3.Pid())
	}
	return pids
}
