package balancer

import (
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// A traffic line's level under option dontlog-normal and option
// log-separate-errors, for what HAProxy counts as gone wrong.
func TestTrafficLevel(t *testing.T) {
	cases := []struct {
		name   string
		line   trafficLine
		status int
		wrong  bool
	}{
		{"normal", trafficLine{term: [2]byte{'-', '-'}}, 0, false},
		{"local", trafficLine{term: [2]byte{'L', 'R'}}, 0, false},
		{"client timeout", trafficLine{term: [2]byte{'c', 'D'}}, 0, true},
		{"refused", trafficLine{term: [2]byte{'S', 'C'}, retries: 3}, 0, true},
		{"retried", trafficLine{term: [2]byte{'-', '-'}, retries: 1}, 0, true},
		{"redispatched", trafficLine{term: [2]byte{'-', '-'}, redisp: true}, 0, true},
		{"5xx", trafficLine{term: [2]byte{'-', '-'}}, 502, true},
		{"4xx", trafficLine{term: [2]byte{'-', '-'}}, 404, false},
	}
	for _, c := range cases {
		require.Equal(t, levelInfo, trafficLevel(&config.Options{}, &c.line, c.status), c.name)
		normal, sep := levelInfo, levelErr
		if !c.wrong {
			normal, sep = -1, levelInfo
		}
		require.Equal(t, normal, trafficLevel(&config.Options{DontLogNormal: true}, &c.line, c.status), "dontlog-normal: %s", c.name)
		require.Equal(t, sep, trafficLevel(&config.Options{LogSeparateErrors: true}, &c.line, c.status), "log-separate-errors: %s", c.name)
	}
}
