package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// varArgCfg returns, for each request, the converters that read a
// variable argument applied to variables set from its query string.
func varArgCfg(port int) string {
	return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request set-var(txn.a) url_param(a) if { url_param(a) -m found }
    http-request set-var(txn.b) url_param(b) if { url_param(b) -m found }
    http-request set-var(txn.i) url_param(i),add(0) if { url_param(i) -m found }
    http-request set-var(txn.t) bool(1) if { url_param(t) -m found }
    http-request set-var(txn.k) url_param(k) if { url_param(k) -m found }
    http-request return status 200 content-type text/plain lf-string "add=%%[var(txn.a),add(txn.b)] sub=%%[var(txn.a),sub(txn.i)] mul=%%[int(3),mul(txn.b)] div=%%[int(7),div(txn.b)] mod=%%[int(7),mod(txn.b)] and=%%[int(7),and(txn.t)] or=%%[int(8),or(txn.i)] xor=%%[int(8),xor(txn.b)] cc=%%[str(x),concat(<,txn.b,>)] cc2=%%[str(x),concat(,txn.i)] ai=%%[var(txn.a),add_item(-,txn.b,s)] ai2=%%[var(txn.a),add_item(-,txn.b)] sc=%%[var(txn.a),strcmp(txn.b)] sm=%%[var(txn.a),secure_memcmp(txn.b)] hm=%%[str(msg),hmac(sha256,txn.k),hex]"
`, port)
}

// TestInteropVariableConverterArgumentsMatchHAProxy: the arithmetic
// converters, concat, add_item, strcmp, secure_memcmp and hmac read a
// variable argument as haproxy does, set or not, text, integer or
// boolean. (Two negative operands are left out: haproxy 2.6.12's add
// and sub saturate wrongly there, its issue 2216, fixed later.)
func TestInteropVariableConverterArgumentsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	queries := []string{
		"a=5&b=3", "a=5", "b=3", "a=5&b=12abc", "a=5&b=", "a=abc&b=abc", "a=abc&b=abd", "a=abc&b=ab",
		"a=ab&b=abc", "a=b&b=a", "a=&b=x", "a=x&b=&t=1&i=2", "a=4&b=-2", "a=5&b=0", "a=9&i=-3&b=-1",
		"k=a2V5", "k=not*base64", "a=%FF&b=%01", "a=10&i=9223372036854775807",
	}
	ask := func(port int) []string {
		client := &http.Client{Timeout: 5 * time.Second}
		var out []string
		for _, q := range queries {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/?%s", port, q))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			out = append(out, q+" => "+string(body))
		}
		return out
	}
	p := freePorts(t, 2)
	startHAProxyReady(t, varArgCfg(p[0]))
	want := ask(p[0])
	require.Contains(t, want[0], "add=8 ", "haproxy read the variable")
	startInProcess(t, varArgCfg(p[1]))
	require.Equal(t, want, ask(p[1]))
}
