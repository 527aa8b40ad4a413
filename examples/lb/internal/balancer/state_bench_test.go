package balancer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// BenchmarkHTTPStateFetches is BenchmarkHTTPKeepAlive with every request
// running conditions on the state and identity fetches and on the
// integer header fetches, which should cost it no allocation.
func BenchmarkHTTPStateFetches(b *testing.B) {
	benchKeepAlive(b, `
listen l
    bind 127.0.0.1:0
    acl up srv_is_up(l/s)
    acl busy be_conn(l) gt 1000
    acl slots connslots lt 0
    acl named be_name l
    acl n hdr_val(x-n) gt 5
    acl q urlp_val(n) gt 5
    http-request deny if !up || busy || !named || n || q
    http-response set-status 503 if { srv_conn(s) gt 1000 } || { srv_name x } || { fe_req_rate gt 1000000 }
    server s %s
`)
}

// BenchmarkStateLookup reads one server's figure by name, as
// srv_is_up(BACKEND/SERVER) does for each request.
func BenchmarkStateLookup(b *testing.B) {
	cfg, err := config.Parse(config.Source{Name: "bench.cfg", Data: fmt.Appendf(nil, httpDefaults+`
listen l
    bind 127.0.0.1:0
    server a 127.0.0.1:1
    server b 127.0.0.1:2
    server s 127.0.0.1:3
`)})
	require.NoError(b, err)
	lb, err := Start(b.Context(), cfg, Options{})
	require.NoError(b, err)
	defer lb.Close()
	b.ReportAllocs()
	for b.Loop() {
		if n, ok := lb.state(acl.StatSrvUp, "l", "l", "s"); !ok || n != 1 {
			b.Fatal("server s is not up")
		}
	}
}
