package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTCPRuleVariables: set-var, set-var-fmt and unset-var at every
// tcp-request stage, with their errors, and haproxy's warning for a rule
// placed after one of a later stage.
func TestTCPRuleVariables(t *testing.T) {
	c := mustParse(t, `frontend f
    bind :8080
    tcp-request connection set-var(sess.a) src
    tcp-request connection set-var-fmt(sess.b) "%[src]:%[src_port]"
    tcp-request session unset-var(sess.a)
    tcp-request content set-var-fmt(txn.c) "x-%[var(sess.b)]"
    tcp-request session set-var(proc.d) int(1)
    tcp-request connection accept
    default_backend b
`+feTimeout+`backend b
    server s 127.0.0.1:80
`+beTimeouts)
	px := c.Proxy("f", KindFrontend)
	got := func(rules []ConnRule) (out [][3]string) {
		for _, r := range rules {
			out = append(out, [3]string{r.Action, r.Var, r.Key})
		}
		return out
	}
	require.Equal(t, [][3]string{{"set-var", "sess.a", "src"}, {"set-var-fmt", "sess.b", "%[src]:%[src_port]"}, {"accept", "", ""}}, got(px.Stick.ConnRules))
	require.Equal(t, [][3]string{{"unset-var", "sess.a", ""}, {"set-var", "proc.d", "int(1)"}}, got(px.Stick.SessRules))
	require.Equal(t, [][3]string{{"set-var-fmt", "txn.c", "x-%[var(sess.b)]"}}, got(px.Stick.ContentRules))
	require.Equal(t, []string{
		"lb.cfg:7: a 'tcp-request' rule placed after a 'tcp-request content' rule will still be processed before.",
		"lb.cfg:8: a 'tcp-request' rule placed after a 'tcp-request session' rule will still be processed before.",
	}, c.Warnings)

	for text, want := range map[string]string{
		"tcp-request connection set-var(sess.a)":          "'set-var(sess.a)' expects one sample expression",
		"tcp-request session set-var-fmt(sess.a)":         "'set-var-fmt(sess.a)' expects one format string",
		"tcp-request connection unset-var(sess.a) src":    "'unset-var' takes no argument, got 'src'",
		"tcp-request connection set-var(nope.a) src":      "'set-var(nope.a)'",
		"tcp-request session set-var(sess.a) nosuchfetch": "unknown fetch method: 'nosuchfetch'",
		"tcp-request connection set-var(sess.a src":       "expects 'set-var(<scope>.<name>)'",
		"tcp-request content set-var-fmt(txn.a) a b":      "'set-var-fmt(txn.a)' expects one format string",
	} {
		_, err := parse(t, "frontend f\n    bind :8080\n    "+text+"\n")
		require.Error(t, err, text)
		require.Contains(t, err.Error(), "lb.cfg:3: ", text)
		require.Contains(t, err.Error(), want, text)
	}
}
