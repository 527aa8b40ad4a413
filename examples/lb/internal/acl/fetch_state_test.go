package acl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateCtx is a Context with a backend "be" holding server "s" and an
// own proxy "own", for the state fetches.
type stateCtx struct {
	Context
	srv    *Ident
	asked  [3]string
	stop   bool
	values map[Stat]int64
}

func (c *stateCtx) FrontendIdent() (Ident, string, bool) { return Ident{"fe", 3}, "", true }
func (c *stateCtx) BackendIdent() (Ident, bool)          { return Ident{"be", 4}, true }
func (c *stateCtx) ServerIdent() (Ident, bool) {
	if c.srv == nil {
		return Ident{}, false
	}
	return *c.srv, true
}
func (c *stateCtx) ListenerIdent() (Ident, bool) { return Ident{}, true }
func (c *stateCtx) State(st Stat, px, srv string) (int64, bool) {
	c.asked = [3]string{px, srv, ""}
	n, ok := c.values[st]
	return n, ok
}
func (c *stateCtx) Stopping() bool { return c.stop }
func (c *stateCtx) Timeout(k TimeoutKind) (int64, bool) {
	return int64(k) * 1000, true
}

// TestStateFetches: the state fetches ask their Context for the names
// their argument gives, and give no sample where it has none.
func TestStateFetches(t *testing.T) {
	c := &stateCtx{Context: newCtx("10.1.2.3:1000"), values: map[Stat]int64{StatSrvUp: 1, StatBeConn: 7}}
	get := func(expr string) (Sample, bool) {
		t.Helper()
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		return fn(c)
	}
	s, ok := get("srv_is_up(be/s)")
	require.True(t, ok)
	assert.Equal(t, Bool(true), s)
	assert.Equal(t, [3]string{"be", "s", ""}, c.asked, "the backend and the server, split at '/'")
	_, _ = get("srv_is_up(s)")
	assert.Equal(t, [3]string{"", "s", ""}, c.asked, "no backend: the rule's own")
	s, ok = get("be_conn")
	assert.True(t, ok)
	assert.Equal(t, Int(7), s)
	_, ok = get("be_conn_free(x)")
	assert.False(t, ok, "a figure the context does not have gives no sample")

	_, ok = get("srv_name")
	assert.False(t, ok, "no server yet: no sample")
	c.srv = &Ident{"web1", 12}
	s, _ = get("srv_name")
	assert.Equal(t, Str("web1"), s)
	s, _ = get("srv_id")
	assert.Equal(t, Int(12), s)
	_, ok = get("so_name")
	assert.False(t, ok, "a listener without a name gives no sample")
	_, ok = get("fe_defbe")
	assert.False(t, ok, "a frontend without a default backend gives no sample")
	s, _ = get("cur_tunnel_timeout")
	assert.Equal(t, Int(int64(TimeoutCurTunnel)*1000), s)
	s, ok = get("stopping")
	assert.True(t, ok)
	assert.Equal(t, Bool(false), s)

	// A Context without the state gives no sample, stopping false.
	plain := newCtx("10.1.2.3:1000")
	for _, expr := range []string{"be_name", "srv_is_up(b/s)", "table_cnt", "be_server_timeout"} {
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err)
		_, ok := fn(plain)
		assert.False(t, ok, expr)
	}

	for _, expr := range []string{"srv_is_up", "srv_is_up()", "srv_conn(b/)", "be_name(x)", "nbproc(1)"} {
		_, _, err := CompileFetch(expr)
		assert.Error(t, err, expr)
	}
	assert.Equal(t, RefServer, ProxyRefOf("srv_queue"))
	assert.Equal(t, RefTable, ProxyRefOf("table_avl"))
	assert.Equal(t, RefNone, ProxyRefOf("be_name"))
}
