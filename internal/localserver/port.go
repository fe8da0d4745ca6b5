package localserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports FreePort picks from: at or above minPort, below the kernel's
// ephemeral range (defaultEphemeralLow unless the system says otherwise).
// minPort stays clear of the fixed ports of `make run` (14222, 18123, ...).
const (
	minPort             = 20000
	defaultEphemeralLow = 32768
	freePortAttempts    = 100
)

// FreePort returns a TCP port on 127.0.0.1 that is free now. It picks at
// random below the kernel's ephemeral port range rather than asking the
// kernel for port 0: tests stop a server and restart it on the same port,
// and during the outage a port from the ephemeral range can be taken as the
// source port of any outgoing connection, while below it only explicit binds
// compete. The port is released before FreePort returns, so another process
// may still take it first; the server then fails to start and says so.
func FreePort() (int, error) {
	high := ephemeralLow()
	if high-minPort < 1000 {
		// An unusual ephemeral range leaves no room below it.
		return kernelPort()
	}
	var last error
	for range freePortAttempts {
		port := minPort + rand.IntN(high-minPort)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			last = err
			continue
		}
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("find free port: %d attempts in %d..%d failed, last: %w", freePortAttempts, minPort, high-1, last)
}

// ephemeralLow returns the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeralLow // not Linux, or no /proc: assume the default
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return defaultEphemeralLow
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return defaultEphemeralLow
	}
	return low
}

// kernelPort lets the kernel pick a free port.
func kernelPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	err = l.Close()
	if !ok {
		return 0, errors.Join(fmt.Errorf("find free port: listener address %v is not TCP", l.Addr()), err)
	}
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	return addr.Port, nil
}
