package localserver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

func TestProgramConfigValidate(t *testing.T) {
	requireProblems(t, localserver.ProgramConfig{StartTimeout: -1}.Validate(), "name", "binary", "log file", "timeout")
}

// A program is started until its probe passes, killed (a crash, not an
// unexpected exit), and started again with its output appended to one log.
func TestProgramStartKillRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	p, err := localserver.NewProgram(localserver.ProgramConfig{
		Name:    "sleeper",
		Binary:  "/bin/sh",
		Args:    []string{"-c", `echo "started $GREETING"; touch "$READY"; exec sleep 60`},
		Env:     []string{"GREETING=hello", "READY=" + ready},
		LogFile: filepath.Join(dir, "logs", "sleeper.log"),
		Probe: func(context.Context) error {
			_, err := os.Stat(ready)
			return err
		},
		StopTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for run := range 2 {
		if err := os.Remove(ready); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			t.Fatalf("start %d: %v", run, err)
		}
		if p.Pid() == 0 {
			t.Errorf("run %d: no pid while running", run)
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		if p.Pid() != 0 || p.Err() != nil {
			t.Errorf("after Kill: pid %d, Err %v; want 0 and nil", p.Pid(), p.Err())
		}
	}
	if err := p.Stop(ctx); err != nil {
		t.Errorf("Stop of a stopped program: %v", err)
	}
	log, err := os.ReadFile(p.LogFile())
	if err != nil || strings.Count(string(log), "started hello") != 2 {
		t.Errorf("log %q (%v), want two starts", log, err)
	}
}
