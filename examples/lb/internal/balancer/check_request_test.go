package balancer

import (
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// The check requests read as haproxy 2.6.12 writes them on the wire, as
// captured from it for each of these backends.
func TestCheckRequestBytes(t *testing.T) {
	for rules, want := range map[string]string{
		"option httpchk":                               "OPTIONS / HTTP/1.0\r\n\r\n",
		"option httpchk GET /x HTTP/1.1":               "GET /x HTTP/1.1\r\nconnection: close\r\n\r\n",
		"option httpchk POST /x HTTP/1.1":              "POST /x HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
		"option httpchk PUT /x HTTP/1.1":               "PUT /x HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
		"option httpchk DELETE /x HTTP/1.1":            "DELETE /x HTTP/1.1\r\nconnection: close\r\n\r\n",
		"option httpchk HEAD /x HTTP/1.1":              "HEAD /x HTTP/1.1\r\nconnection: close\r\n\r\n",
		"option httpchk POST /x HTTP/1.0":              "POST /x HTTP/1.0\r\ncontent-length: 0\r\n\r\n",
		`option httpchk GET /x HTTP/1.1\r\nHost:\ www`: "GET /x HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n",
		"option httpchk GET /x HTTP/1.1\n    http-check send hdr Host foo hdr X-A b body hello": "GET /x HTTP/1.1\r\nhost: foo\r\nx-a: b\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
		"option httpchk GET /x HTTP/1.0\n    http-check send hdr Host foo hdr X-A b body hello": "GET /x HTTP/1.0\r\nhost: foo\r\nx-a: b\r\ncontent-length: 5\r\n\r\nhello",
		"option httpchk\n    http-check send hdr Connection keep-alive":                         "OPTIONS / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
	} {
		cfg, err := config.Parse(config.Source{Name: "t.cfg", Data: []byte("backend b\n    " + rules + "\n    server s 127.0.0.1:1 check\n")})
		require.NoError(t, err, rules)
		require.Equal(t, want, checkRequest(cfg.Proxy("b", config.KindBackend).HTTP.Check, ""), rules)
	}
	cfg, err := config.Parse(config.Source{Name: "t.cfg", Data: []byte("backend b\n    option httpchk GET /x HTTP/1.1\n    http-check send hdr X-A b hdr Host h body hi\n    server s 127.0.0.1:1 check\n")})
	require.NoError(t, err)
	require.Equal(t, "GET /x HTTP/1.1\r\nx-a: b\r\nhost: h\r\nx-haproxy-server-state: UP\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
		checkRequest(cfg.Proxy("b", config.KindBackend).HTTP.Check, "UP"))
}
