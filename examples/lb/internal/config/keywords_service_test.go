package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUseServicePrometheus(t *testing.T) {
	cfg := mustParse(t, `frontend stats
    mode http
    bind :8405
    http-request set-header X-Seen 1
    http-request use-service prometheus-exporter if { path /metrics }
    http-request use-service prometheus-exporter unless { src 10.0.0.0/8 }
`)
	px := cfg.Proxy("stats", KindFrontend)
	require.Len(t, px.HTTP.RequestRules, 3)
	r := px.HTTP.RequestRules[1]
	require.Equal(t, "use-service", r.Action)
	require.Equal(t, ServicePrometheus, r.Name)
	require.Equal(t, Pos{"lb.cfg", 5}, r.Pos)
	require.NotNil(t, r.Cond)
	require.Equal(t, ServicePrometheus, px.HTTP.RequestRules[2].Name)
	require.NotNil(t, px.HTTP.RequestRules[2].Cond)

	// Without a condition, in a backend too.
	cfg = mustParse(t, "backend b\n    mode http\n    http-request use-service prometheus-exporter\n")
	r = cfg.Proxy("b", KindBackend).HTTP.RequestRules[0]
	require.Equal(t, "use-service", r.Action)
	require.Nil(t, r.Cond)
}

func TestUseServiceErrors(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      error
		msg       string
	}{
		{"no name", "frontend f\n  mode http\n  http-request use-service\n", ErrBadValue,
			"test.cfg:3: bad value: 'http-request' in 'frontend' section: 'use-service' expects a service name"},
		{"unknown", "frontend f\n  mode http\n  http-request use-service foo\n", ErrBadValue,
			"test.cfg:3: bad value: 'http-request' in 'frontend' section: 'use-service': 'foo' unknown service name (only 'prometheus-exporter')"},
		{"lua without lua-load", "frontend f\n  http-request use-service lua.hello if TRUE\n", ErrBadValue,
			"test.cfg:2: bad value: 'http-request' in 'frontend' section: 'lua.hello' unknown service name"},
		{"extra word", "frontend f\n  http-request use-service prometheus-exporter now\n", ErrBadValue,
			"test.cfg:2: bad value: 'http-request' in 'frontend' section: 'use-service prometheus-exporter': unexpected 'now' (expects 'if' or 'unless' followed by a condition)"},
		{"response side", "frontend f\n  http-response use-service prometheus-exporter\n", ErrUnsupported, "test.cfg:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(Source{Name: "test.cfg", Data: []byte(tc.cfg)})
			require.Error(t, err)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}
