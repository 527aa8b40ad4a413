package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Configurations haproxy takes, refuses or warns of in ways that are easy
// to miss: lb's verdict and warnings must be haproxy's.

// TestInteropEmptyArgumentEndsLineMatchesHAProxy: an empty word ("" or
// a quoted variable with no value) ends the line's arguments, so a header
// rule with an empty name or value lacks an argument, and what follows
// the empty word, a condition included, is not read.
func TestInteropEmptyArgumentEndsLineMatchesHAProxy(t *testing.T) {
	for _, l := range []string{
		`http-request set-header X ""`,
		`http-request set-header "" x`,
		`http-request add-header X ""`,
		`http-request replace-header X a ""`,
		`http-request replace-value X a ""`,
		`http-response set-header X ""`,
		`http-response add-header X ""`,
		`http-response replace-header X "" b`,
		`http-after-response set-header X ""`,
		`http-request set-header X "" if TRUE`,
		`http-request set-header X " "`,
		`http-request set-header X ""x`,
		`http-request set-path ""`,
		`http-request set-query ""`,
		`http-request del-header ""`,
		`http-request return status 200 string ""`,
		`http-request redirect location ""`,
		`http-request deny "" if FALSE`,
		`http-request set-header X-A b "" garbage here`,
		`"" anything`,
		`log-format ""`,
		`http-request set-header X-A "${LB_TEST_UNSET_VAR}" if TRUE`,
	} {
		t.Run(l, func(t *testing.T) { checkParity(t, parityBase+"    "+l+"\n") })
	}
	checkParity(t, strings.Replace(parityBase, "bind 127.0.0.1:18001", `bind 127.0.0.1:18001 "" nosuchoption`, 1))
}

// TestInteropResolversWithoutNameserverMatchesHAProxy: a resolvers
// section without a name server is taken with haproxy's warning.
func TestInteropResolversWithoutNameserverMatchesHAProxy(t *testing.T) {
	w := checkParity(t, "resolvers dns\n    hold valid 10s\n"+parityBase+"    server s2 app.invalid:80 resolvers dns init-addr none\n")
	require.Equal(t, []string{": resolvers 'dns' [p.cfg:1] has no nameservers configured!"}, w)
	checkParity(t, "resolvers dns\n"+parityBase)
}
