package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// compatCfg wraps lines in an HTTP frontend.
func compatCfg(lines string) string {
	return "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind :8080\n" + lines
}

// A redirect rule takes its type and options in any order; a missing
// type or type argument is named.
func TestRedirectOptionsInAnyOrder(t *testing.T) {
	c := mustParse(t, compatCfg("    http-request redirect code 301 drop-query location /x if { path /a }\n"))
	r := c.Proxies[0].HTTP.RequestRules[0]
	require.Equal(t, "location", r.RedirectType)
	require.Equal(t, "/x", r.Value)
	require.Equal(t, 301, r.Status)
	require.True(t, r.Redirect.DropQuery)

	_, err := parse(t, compatCfg("    http-request redirect code 301\n"))
	require.ErrorContains(t, err, "lb.cfg:8")
	require.ErrorContains(t, err, "expects a redirection type")
	_, err = parse(t, compatCfg("    http-request redirect code 301 location\n"))
	require.ErrorContains(t, err, "missing argument for 'location'")
}
