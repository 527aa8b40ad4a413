package balancer

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// addrCtx is a bare fetch context: the two addresses only.
type addrCtx struct{ src, dst netip.AddrPort }

func (c addrCtx) Src() netip.AddrPort { return c.src }
func (c addrCtx) Dst() netip.AddrPort { return c.dst }

// A log-format's sample expressions print their samples; none, or an
// empty one, prints "-", and %{+Q} quotes every type, an absent sample as
// "".
func TestRenderLogFormatSamples(t *testing.T) {
	format, err := config.ParseLogFormat(`%[src] %{+Q}[src] %[dst_port,add(1)] %{+Q}[dst_port] %[str()] %{+Q}[str()] %[env(LB_TEST_UNSET_VARIABLE)] %{+Q}[env(LB_TEST_UNSET_VARIABLE)] %[bool(1)] %{+Q}[str(a b)]  %[str(x)]`)
	require.NoError(t, err)
	fetch, err := compileLogFetches(format, nil)
	require.NoError(t, err)
	require.Len(t, fetch, len(format))
	ctx := addrCtx{src: netip.MustParseAddrPort("192.0.2.7:4000"), dst: netip.MustParseAddrPort("198.51.100.1:8443")}
	v := logValues{trafficLine: &trafficLine{}, ctx: ctx, fetch: fetch}
	got := string(renderLogFormat(nil, format, &v))
	require.Equal(t, `192.0.2.7 "192.0.2.7" 8444 "8443" - "" - "" 1 "a b" x`, got)

	// A format without expressions compiles to nothing.
	format, err = config.ParseLogFormat(`%ci %b`)
	require.NoError(t, err)
	fetch, err = compileLogFetches(format, nil)
	require.NoError(t, err)
	require.Nil(t, fetch)

	// Without a context (none was given), an expression prints "-".
	format, err = config.ParseLogFormat(`a %[src] b`)
	require.NoError(t, err)
	v = logValues{trafficLine: &trafficLine{}, fetch: []acl.FetchFunc{nil, nil, nil}}
	require.Equal(t, "a - b", string(renderLogFormat(nil, format, &v)))
}
