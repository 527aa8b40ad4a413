package balancer

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// A line the ring refuses, as a reader holds its oldest line, is
// counted, and the count goes in as a notice before the next line that
// fits, as haproxy announces dropped events.
func TestRingSinkAnnouncesDropped(t *testing.T) {
	// Each "<6>line-N" takes 11 bytes: three fill the ring.
	s := newRingSink(&config.RingSection{Name: "r", Format: "short", MaxLen: 100, Size: 1 + 3*11})
	m := logMeta{tag: "t", pid: 1}
	s.log(m, 16, levelInfo, []byte("line-0"))
	rd := s.ring.NewReader(false)
	for _, l := range []string{"line-1", "line-2", "line-3", "line-4"} {
		s.log(m, 16, levelInfo, []byte(l))
	}
	require.EqualValues(t, 2, s.dropped, "the reader held line-0")
	msgs, _ := rd.Next(nil, 0)
	require.Len(t, msgs, 3)
	rd.Close()
	s.log(m, 16, levelInfo, []byte("line-5"))
	require.Zero(t, s.dropped)
	rd = s.ring.NewReader(false)
	defer rd.Close()
	msgs, _ = rd.Next(nil, 0)
	var got []string
	for _, b := range msgs {
		got = append(got, string(b))
	}
	require.Equal(t, []string{"<5>2 events dropped", "<6>line-5"}, got)
}

// A ring's header for each format, and the line cut at maxlen.
func TestRingSinkFormats(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	m := logMeta{tag: "tag", pid: 42}
	for format, want := range map[string]string{
		"raw":      "msg",
		"short":    "<6>msg",
		"priority": "<134>msg",
		"iso":      "2026-01-02T03:04:05.000006+00:00 msg",
		"timed":    "<6>2026-01-02T03:04:05.000006+00:00 msg",
		"local":    "<134>Jan  2 03:04:05 tag[42]: msg",
		"rfc3164":  "<134>Jan  2 03:04:05 localhost tag[42]: msg",
		"rfc5424":  "<134>1 2026-01-02T03:04:05.000006+00:00 - tag 42 - - msg",
	} {
		s := newRingSink(&config.RingSection{Name: "r", Format: format, MaxLen: 1000, Size: 16384})
		require.Equal(t, want, string(s.line(m, 16, levelInfo, []byte("msg"), now)), format)
	}
	s := newRingSink(&config.RingSection{Name: "r", Format: "short", MaxLen: 5, Size: 16384})
	require.Equal(t, "<6>ms", string(s.line(m, 16, levelInfo, []byte("msg"), now)))
}

// "show events NAME -w" prints the ring, then each new line as it comes,
// until the client sends a byte; a ring's servers get its lines; and
// once the Balancer is closed, with a follower and a server connection
// open, no goroutine or descriptor is left.
func TestRingFollowAndForwardCloseClean(t *testing.T) {
	g0, fd0 := runtime.NumGoroutine(), openFDs()
	syslog, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got := make(chan string, 1)
	go func() {
		c, err := syslog.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
	}()
	sock := filepath.Join(t.TempDir(), "s.sock")
	b, err := Start(context.Background(), parseCfg(t, `global
    stats socket %s level admin
    log ring@r local0
ring r
    timeout connect 1s
    timeout server 1s
    server s %s
frontend f
    bind 127.0.0.1:0
    log global
    mode tcp
    timeout client 1s
    tcp-request connection reject
`, sock, syslog.Addr()), Options{Stdout: io.Discard, Stderr: io.Discard})
	require.NoError(t, err)
	b.newLogSet(nil).emit(levelInfo, "first")

	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "show events r -w\n")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first\n", line)
	b.newLogSet(nil).emit(levelInfo, "second")
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "second\n", line)
	_, err = io.WriteString(c, "x")
	require.NoError(t, err)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "\n", string(rest), "the answer's end, then the close")
	_ = c.Close()
	require.Equal(t, "first\n", <-got)

	// Closed while a follower waits.
	c, err = net.Dial("unix", sock)
	require.NoError(t, err)
	_, err = io.WriteString(c, "show events r -w\n")
	require.NoError(t, err)
	r = bufio.NewReader(c)
	for _, want := range []string{"first\n", "second\n"} {
		line, err = r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, want, line)
	}
	b.newLogSet(nil).emit(levelInfo, "third")
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "third\n", line)
	require.NoError(t, b.Close())
	_ = c.Close()
	_ = syslog.Close()

	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > g0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, %d before:\n%s", runtime.NumGoroutine(), g0, buf[:runtime.Stack(buf, true)])
		}
	}
	if fd0 >= 0 {
		require.Eventually(t, func() bool { return openFDs() <= fd0 }, 10*time.Second, 5*time.Millisecond,
			"descriptors: %d, %d before", openFDs(), fd0)
	}
}
