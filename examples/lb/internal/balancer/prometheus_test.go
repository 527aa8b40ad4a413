package balancer

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParsePromQuery(t *testing.T) {
	tests := []struct {
		uri  string
		want promOptions
		ok   bool
	}{
		{"/metrics", promOptions{scope: promAll}, true},
		{"/metrics?", promOptions{scope: promAll}, true},
		{"/metrics?scope=global", promOptions{scope: promGlobal}, true},
		{"/metrics?scope=backend&scope=server", promOptions{scope: promBackend | promServer}, true},
		{"/metrics?scope=frontend&scope=", promOptions{scope: 0}, true},
		{"/metrics?scope=&scope=frontend", promOptions{scope: promFrontend}, true},
		{"/metrics?scope=*", promOptions{scope: promAll}, true},
		{"/metrics?scope=listener", promOptions{scope: 0}, true},
		{"/metrics?no-maint&other=1", promOptions{scope: promAll, noMaint: true}, true},
		{"/metrics?scope=%73erver", promOptions{scope: promServer}, true},
		{"/metrics?scope=server#frag&scope=global", promOptions{scope: promServer}, true},
		{"/metrics?scope", promOptions{}, false},
		{"/metrics?scope=bogus", promOptions{}, false},
		{"/metrics?scope=a=b", promOptions{}, false},
		{"/metrics?scope=%zz", promOptions{}, false},
	}
	for _, tc := range tests {
		got, ok := parsePromQuery([]byte(tc.uri))
		assert.Equal(t, tc.ok, ok, tc.uri)
		if tc.ok {
			assert.Equal(t, tc.want, got, tc.uri)
		}
	}
}

func TestPromValues(t *testing.T) {
	assert.Equal(t, "NaN", promNumber(""))
	assert.Equal(t, "NaN", promNumber("L4OK"))
	assert.Equal(t, "-1", promNumber("-1"))
	assert.Equal(t, "18446744073709551615", promNumber("18446744073709551615"))
	assert.Equal(t, "0.000000", promSeconds(""))
	assert.Equal(t, "1.234000", promSeconds("1234"))
	for status, want := range map[string]string{"UP": "UP", "UP 1/3": "UP", "no check": "UP", "DOWN": "DOWN",
		"DOWN 1/2": "DOWN", "DOWN (agent)": "DOWN", "MAINT": "MAINT", "MAINT (via b/s)": "MAINT", "DRAIN": "DRAIN",
		"DRAIN (agent)": "DRAIN", "NOLB": "NOLB"} {
		assert.Equal(t, want, serverState(status), status)
	}
}
