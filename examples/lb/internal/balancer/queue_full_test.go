package balancer

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMaxQueue refuses a connection whose server is full along with its
// queue (maxqueue), at once and naming the server, as HAProxy does.
func TestMaxQueue(t *testing.T) {
	addr := refusingAddr(t)
	holdingServer(t, "a", addr)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    balance source
    timeout queue 5s
    server a %s maxconn 1 maxqueue 1
`, addr))
	fe := feAddr(t, b, "px")
	_, name := holdConn(t, fe)
	require.Equal(t, "a", name)
	queued, err := net.Dial("tcp", fe)
	require.NoError(t, err)
	defer queued.Close()
	require.Eventually(t, func() bool { return queueLen(b, "px", "a") == 1 }, 5*time.Second, 5*time.Millisecond)
	refused, err := net.Dial("tcp", fe)
	require.NoError(t, err)
	defer refused.Close()
	_ = refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = refused.Read(make([]byte, 1))
	require.Error(t, err, "refused at once, the queue being full")
	line := logs.waitLine(t, func(l string) bool { return strings.Contains(l, " SQ ") })
	// Tt is the refusal's time, a few milliseconds under load.
	require.Regexp(t, ` px px/a -1/-1/\d+ 0 SQ 3/3/2/1/0 0/0$`, line)
}

func queueLen(b *Balancer, be, srv string) int {
	bk := b.Backend(be)
	bk.mu.Lock()
	defer bk.mu.Unlock()
	return len(bk.Server(srv).queue)
}

// TestLogASAP writes the traffic line once the server connection is up,
// while the connection lasts, and no second one at its end.
func TestLogASAP(t *testing.T) {
	addr := refusingAddr(t)
	holdingServer(t, "a", addr)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    option logasap
    server a %s
`, addr))
	c, name := holdConn(t, feAddr(t, b, "px"))
	require.Equal(t, "a", name)
	line := logs.waitLine(t, func(l string) bool { return strings.Contains(l, " px px/a ") })
	require.Regexp(t, ` px px/a \d+/\d+/\+\d+ \+0 -- 1/1/1/1/0 0/0$`, line)
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return b.Sessions() == 0 }, 5*time.Second, 10*time.Millisecond)
	n := 0
	for _, l := range logs.lines() {
		if strings.Contains(l, " px px/a ") {
			n++
		}
	}
	require.Equal(t, 1, n, "one line per connection")
}
