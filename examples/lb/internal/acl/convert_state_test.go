package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// convStateCtx answers for backend "be" (2 usable servers; s1 queues 3,
// s2 none) and for "own", the proxy running the rules (server x queues
// 5).
type convStateCtx struct {
	*ctx
	asked []string
}

func (c *convStateCtx) UsableServers(name string) (int, bool) {
	c.asked = append(c.asked, name)
	return 2, name == "be"
}

func (c *convStateCtx) State(st Stat, px, srv string) (int64, bool) {
	if st != StatSrvQueue {
		return 0, false
	}
	switch {
	case px == "be" && srv == "s1":
		return 3, true
	case px == "be" && srv == "s2":
		return 0, true
	case px == "" && srv == "x":
		return 5, true
	}
	return 0, false
}

func (c *convStateCtx) Stopping() bool                    { return false }
func (c *convStateCtx) Timeout(TimeoutKind) (int64, bool) { return 0, false }

func TestStateConverters(t *testing.T) {
	c := &convStateCtx{ctx: newCtx("10.0.0.1:1000")}
	for expr, want := range map[string]string{
		"str(be),nbsrv":        "2",
		"str(be/s1),srv_queue": "3",
		"str(be/s2),srv_queue": "0",
		"str(x),srv_queue":     "5",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
	for _, expr := range []string{
		"str(nope),nbsrv", "str(),nbsrv", "int(1),nbsrv",
		"str(be/nope),srv_queue", "str(be/),srv_queue", "str(/x),srv_queue", "str(),srv_queue", "str(nope/s1),srv_queue",
	} {
		_, ok := fetchOn(t, expr, c)
		require.False(t, ok, expr)
	}
	require.Equal(t, []string{"be", "nope", "1"}, c.asked, "no backend is looked up for an empty name")
	_, ok := fetchOn(t, "str(be),nbsrv", plain{})
	require.False(t, ok)
	for _, expr := range []string{"str(be),nbsrv(x)", "str(be),srv_queue(1)"} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, "takes no argument", expr)
	}
}
