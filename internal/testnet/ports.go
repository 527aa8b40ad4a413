package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// given holds every port FreePorts has handed out in this process, none
// of which it gives again: a client a finished test left behind (a retry,
// a late connect) must not reach the next test's listener on the same
// port.
var given struct {
	sync.Mutex
	ports map[int]bool
}

// ephemeralLow is the first port of the system's ephemeral range
// (ip_local_port_range), from which it picks the source ports of
// outgoing connections and the ports of listeners on port 0.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	return low
}

// FreePorts returns n distinct ports of 127.0.0.1 that nothing listens
// on now, for a configuration that binds them later. They are taken at
// random below the system's ephemeral range: a port from that range, as
// listening on port 0 gives, may meanwhile become the source port of any
// test's outgoing connection, and the later bind then fails. No port is
// given twice in one process, nor to two test processes running at once.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	low := ephemeralLow()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	given.Lock()
	defer given.Unlock()
	if given.ports == nil {
		given.ports = map[int]bool{}
	}
	claims := openClaims()
	defer claims.close()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 2000 {
			t.Fatalf("testnet: no free port after %d tries", tries)
		}
		addr := "127.0.0.1:0"
		if low > 12000 && tries < 1000 {
			port := 10000 + rand.IntN(low-10000)
			if given.ports[port] {
				continue
			}
			addr = fmt.Sprintf("127.0.0.1:%d", port)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if given.ports[port] {
			continue
		}
		given.ports[port] = true
		if !claims.claim(port) {
			continue
		}
		ports = append(ports, port)
	}
	return ports
}

// RefusedAddr returns an address of 127.0.0.1 where nothing listens, so
// that a connect to it is refused; the port is one FreePorts would give,
// which no listener on port 0 takes meanwhile.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePorts(t, 1)[0])
}
