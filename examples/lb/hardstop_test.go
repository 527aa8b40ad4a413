package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hard-stop-after bounds a soft stop: a connection still live when the
// time is up is closed and the process exits.
func TestHardStopAfter(t *testing.T) {
	port := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := strings.Replace(processCfg(port, echoServer(t)), "global\n", "global\n    hard-stop-after 300ms\n", 1)
	p := startProcess(t, cfg, listen)
	c, err := net.Dial("tcp", listen)
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, "before\n")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR1))
	roundTrip(t, c, "during the soft stop\n")
	// The client never leaves; the process does, closing it.
	p.wait(t)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	require.Error(t, err, "the live connection is closed by the hard stop")
}

// ulimit-n sets the process's open file limit before it binds.
func TestUlimitN(t *testing.T) {
	port := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := strings.Replace(processCfg(port, echoServer(t)), "global\n", "global\n    ulimit-n 3000\n", 1)
	p := startProcess(t, cfg, listen)
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.cmd.Process.Pid))
	if os.IsNotExist(err) {
		t.Skip("no /proc here")
	}
	require.NoError(t, err)
	m := regexp.MustCompile(`Max open files\s+(\d+)\s+(\S+)`).FindStringSubmatch(string(limits))
	require.NotNil(t, m, "%s", limits)
	require.Equal(t, "3000", m[1], "soft limit")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.wait(t)
}
