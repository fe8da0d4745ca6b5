package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/procfs"

	"github.com/pnstream/pnstream/internal/localserver"
)

// The roles of the pipeline processes the peers stage runs, the same for
// both sides: pnstream's bin/ingest and bin/recorder, and Bento's
// http_server → nats_jetstream and nats_jetstream → sql_insert. CPU is
// reported by role, so that like is compared with like.
const (
	roleIngest   = "ingest"
	roleRecorder = "recorder"
)

// peerProc is one pipeline process of either side, run as a child of
// pnbench, so that its memory and CPU are its own and not the load
// generator's.
type peerProc struct {
	role string
	prog *localserver.Program
}

// startPeerProc runs bin with args and env (added to pnbench's), its
// output in dir/name.log, and waits until probe succeeds (nil: at once).
func startPeerProc(ctx context.Context, role, bin, dir, name string, args, env []string, probe func(context.Context) error) (*peerProc, error) {
	prog, err := localserver.NewProgram(localserver.ProgramConfig{
		Name: name, Binary: bin, Args: args, Env: env,
		LogFile: filepath.Join(dir, name+".log"), Probe: probe,
		StartTimeout: time.Minute, StopTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	if err := prog.Start(ctx); err != nil {
		return nil, err
	}
	return &peerProc{role: role, prog: prog}, nil
}

// exited returns why the process ended, with its log, once it has ended.
func (p *peerProc) exited() error {
	select {
	case <-p.prog.Done():
		if err := p.prog.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%s ended (see %s)", p.role, p.prog.LogFile())
	default:
		return nil
	}
}

// usage returns the process's peak RSS in MiB and CPU time so far; it
// must still run.
func (p *peerProc) usage() (float64, time.Duration, error) {
	if err := p.exited(); err != nil {
		return 0, 0, err
	}
	pid := p.prog.Pid()
	rss, err := processPeakRSS(pid)
	if err != nil {
		return 0, 0, err
	}
	cpu, err := processCPU(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("%s cpu: %w", p.role, err)
	}
	return rss, cpu, nil
}

// stop ends the process with SIGTERM, SIGKILL after 30s; an end of its own
// before is an error.
func (p *peerProc) stop() error {
	err := p.exited()
	return errors.Join(err, p.prog.Stop(context.Background()))
}

// procs are the pipeline processes of one side of a measurement.
type procs []*peerProc

// cpu returns the CPU time of each process so far, by role.
func (ps procs) cpu() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, p := range ps {
		_, cpu, err := p.usage()
		if err != nil {
			return nil, err
		}
		out[p.role] += cpu
	}
	return out, nil
}

// account adds to cpu (µs per unit, by process) each process's CPU since
// before, per unit of n, and returns the sum of their peak RSS in MiB.
func (ps procs) account(cpu map[string]float64, before map[string]time.Duration, n int) (float64, error) {
	var rss float64
	after := map[string]time.Duration{}
	for _, p := range ps {
		r, c, err := p.usage()
		if err != nil {
			return 0, err
		}
		rss += r
		after[p.role] += c
	}
	for role, c := range after {
		cpu[role] = perUnit(c-before[role], n)
	}
	return rss, nil
}

// stop stops every process, the last started first.
func (ps procs) stop() error {
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		errs = append(errs, ps[i].stop())
	}
	return errors.Join(errs...)
}

// exited returns the first process's end, or nil while all run.
func (ps procs) exited() error {
	for _, p := range ps {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

// processPeakRSS returns VmHWM of process pid, in MiB.
func processPeakRSS(pid int) (float64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	return float64(st.VmHWM) / (1 << 20), nil
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// listening is a probe that succeeds once addr accepts connections.
func listening(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// needBinary fails unless bin exists, saying which make target builds it.
func needBinary(what, bin, target string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s binary (`make %s` builds it): %w", what, target, err)
	}
	return nil
}
