package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// bentoProc is a running Bento process.
type bentoProcess struct {
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan error
}

// startBento writes conf to dir/name.yaml and runs `bin -c` on it.
func startBento(bin, dir, name string, conf map[string]any) (*bentoProcess, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("bento binary (-bento; `make bin/bento` builds it): %w", err)
	}
	data, err := bentoYAML(conf)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("write bento config: %w", err)
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bento log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bento: %w", err)
	}
	p := &bentoProcess{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }() // waited for by stop
	return p, nil
}

func (p *bentoProcess) pid() int { return p.cmd.Process.Pid }

// exited returns the process's end and its log when it has ended.
func (p *bentoProcess) exited() error {
	select {
	case err := <-p.done:
		p.done <- err // for stop
		return fmt.Errorf("bento exited (%v): %s", err, p.tail())
	default:
		return nil
	}
}

// tail returns the end of the process's log, for errors.
func (p *bentoProcess) tail() string {
	data, _ := os.ReadFile(p.log) // best effort: the error says what it can
	s := strings.TrimSpace(string(data))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// waitListening waits until addr accepts connections or the process ends.
func (p *bentoProcess) waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err := p.exited(); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("bento not listening on %s after 30s: %s", addr, p.tail())
}

// usage returns the process's peak RSS in MiB and CPU time so far; it
// must still run.
func (p *bentoProcess) usage() (float64, time.Duration, error) {
	if err := p.exited(); err != nil {
		return 0, 0, err
	}
	rss, err := processPeakRSS(p.pid())
	if err != nil {
		return 0, 0, err
	}
	cpu, err := processCPU(p.pid())
	if err != nil {
		return 0, 0, fmt.Errorf("bento cpu: %w", err)
	}
	return rss, cpu, nil
}

// stop ends the process with SIGTERM, SIGKILL after 30s.
func (p *bentoProcess) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // it may have ended already
	select {
	case err := <-p.done:
		return ignoreSignalled(err)
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("bento did not stop within 30s of SIGTERM; killed")
	}
}

func ignoreSignalled(err error) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) && !exit.Exited() {
		return nil // ended by our signal
	}
	return err
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
