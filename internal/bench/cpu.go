package bench

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// cpuTimes is the CPU time used so far by this process and by each
// server process, so that a measurement can say where its time went.
type cpuTimes map[string]time.Duration

func (b *Bench) cpuTimes() cpuTimes {
	t := cpuTimes{}
	// getrusage counts in microseconds, /proc in clock ticks (10 ms).
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		t["pnbench"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for name, pid := range b.srv.pids() {
		if cpu, err := processCPU(pid); err == nil { // best effort: no figure without /proc
			t[name] = cpu
		}
	}
	return t
}

// processCPU returns the user and system CPU time process pid used so far.
func processCPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	stat, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(stat.CPUTime() * float64(time.Second)), nil
}

// measurement is a timed part of a stage: it profiles the CPU into
// ProfileDir/<name>.pprof when set, and accounts the CPU time of every
// process.
type measurement struct {
	b       *Bench
	name    string
	before  cpuTimes
	profile *os.File
}

func (b *Bench) measure(name string) *measurement {
	m := &measurement{b: b, name: name}
	if b.cfg.ProfileDir != "" {
		f, err := os.Create(filepath.Join(b.cfg.ProfileDir, name+".pprof"))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			m.profile = f
		} else if f != nil {
			_ = f.Close() // the figures do not depend on it
		}
	}
	m.before = b.cpuTimes()
	return m
}

// done stops the profile and returns the CPU time each process used per
// unit of work (n units), in microseconds.
func (m *measurement) done(n int) map[string]float64 {
	after := m.b.cpuTimes()
	if m.profile != nil {
		pprof.StopCPUProfile()
		_ = m.profile.Close() // best effort, as above
	}
	return after.since(m.before).perUnit(n)
}

// since returns the CPU time used between before and t.
func (t cpuTimes) since(before cpuTimes) cpuTimes {
	d := cpuTimes{}
	for k, v := range t {
		d[k] = v - before[k]
	}
	return d
}

// add adds d to t.
func (t cpuTimes) add(d cpuTimes) {
	for k, v := range d {
		t[k] += v
	}
}

// perUnit returns t per unit of work (n units), in microseconds.
func (t cpuTimes) perUnit(n int) map[string]float64 {
	per := make(map[string]float64)
	for k, v := range t {
		if n > 0 {
			per[k] = float64(v) / float64(time.Microsecond) / float64(n)
		}
	}
	return per
}

// addCPU reports CPU µs per unit of a raw measurement and pnstream's
// beside it, for each of the processes procs that the stage uses.
func (r *Report) addCPU(stage, unit string, raw, pn map[string]float64, procs ...string) {
	r.addCPUBy(stage, unit, "the raw limit's run", raw, pn, procs...)
}

// addCPUBy is addCPU with rawBy saying what the raw figures measured.
func (r *Report) addCPUBy(stage, unit, rawBy string, raw, pn map[string]float64, procs ...string) {
	for _, proc := range procs {
		p, ok := pn[proc]
		if !ok {
			continue
		}
		label := "CPU µs/" + unit + ", " + proc
		if proc == "pnbench" {
			label += " (pnstream + load)"
		}
		r.add(stage, label, rawBy, raw[proc], p, nil)
	}
}
