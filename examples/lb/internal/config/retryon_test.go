package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetryOn checks retry-on's words, its inheritance from defaults
// (a section's own list replaces it), and its errors.
func TestRetryOn(t *testing.T) {
	c := mustParse(t, `defaults
    mode http
    retry-on 503 empty-response
backend inherits
    server s 127.0.0.1:1
backend own
    retry-on conn-failure 404 response-timeout junk-response 0rtt-rejected 401 403 408 425 500 501 502 504
    server s 127.0.0.1:1
backend all
    retry-on all-retryable-errors
    server s 127.0.0.1:1
backend none
    retry-on none
    server s 127.0.0.1:1
`)
	assert.Equal(t, RetryStatus(503)|RetryEmptyResponse, c.Proxy("inherits", KindBackend).RetryOn)
	own := c.Proxy("own", KindBackend).RetryOn
	for _, st := range []int{401, 403, 404, 408, 425, 500, 501, 502, 504} {
		assert.NotZero(t, own&RetryStatus(st), "status %d", st)
	}
	assert.Zero(t, own&RetryStatus(503))
	assert.Equal(t, RetryConnFailure|RetryResponseTimeout|RetryJunkResponse|Retry0RTTRejected,
		own&(RetryConnFailure|RetryEmptyResponse|RetryResponseTimeout|RetryJunkResponse|Retry0RTTRejected))
	all := c.Proxy("all", KindBackend).RetryOn
	assert.Equal(t, RetryAllErrors, all)
	assert.Zero(t, all&RetryStatus(404), "404 is not among all-retryable-errors")
	assert.True(t, all.Layer7())
	assert.Equal(t, RetryOn(0), c.Proxy("none", KindBackend).RetryOn)
	assert.False(t, RetryConnFailure.Layer7())

	def := mustParse(t, "backend b\n    server s 127.0.0.1:1\n")
	assert.Equal(t, RetryConnFailure, def.Proxy("b", KindBackend).RetryOn, "conn-failure by default")
	assert.Zero(t, RetryStatus(200), "200 cannot be named")

	for text, want := range map[string]string{
		"backend b\n    retry-on\n":                       "lb.cfg:2: bad value: 'retry-on' in 'backend' section: expects a list of conditions",
		"backend b\n    retry-on 503 bogus\n":             "lb.cfg:2: bad value: 'retry-on' in 'backend' section: unknown keyword 'bogus'",
		"backend b\n    retry-on 421\n":                   "lb.cfg:2: bad value: 'retry-on' in 'backend' section: unknown keyword '421'",
		"backend b\n    retry-on none 503\n":              "lb.cfg:2: bad value: 'retry-on' in 'backend' section: 'none' is only usable alone",
		"backend b\n    retry-on 503 none\n":              "lb.cfg:2: bad value: 'retry-on' in 'backend' section: 'none' is only usable alone",
		"frontend f\n    retry-on 503\n":                  "lb.cfg:2: keyword not allowed here: 'retry-on' not allowed in 'frontend' section",
		"listen l\n    http-request disable-l7-retry x\n": "lb.cfg:2: ",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}
