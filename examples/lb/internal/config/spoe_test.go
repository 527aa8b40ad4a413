package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

const spoeConf = `[iprep]
spoe-agent a1
    messages m1
    groups g1
    option var-prefix iprep
    option set-on-error err
    option continue-on-error
    no option pipelining
    register-var-names extra x.y
    timeout hello 1s
    timeout idle 2m
    timeout processing 10ms
    maxconnrate 5
    maxerrrate 2
    log global
    log stderr format raw local1 warning
    option dontlog-normal
    use-backend agents
spoe-message m1
    acl local src 127.0.0.1
    args ip=src hdr(host) port=src_port,add(1)
    event on-frontend-http-request if local
spoe-message m2
    args meth=method
spoe-group g1
    messages m2
[other]
spoe-agent ignored
    this is not even read
`

func spoeConfig(t *testing.T, conf, rule string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spoe.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return `frontend f
    mode http
    bind 127.0.0.1:8080
    filter spoe engine iprep config ` + path + `
    ` + rule + `
    default_backend web
backend web
    mode http
    server w 127.0.0.1:8081
backend agents
    mode tcp
    server a 127.0.0.1:12345
`
}

func TestSPOEFilter(t *testing.T) {
	cfg := mustParse(t, spoeConfig(t, spoeConf, "http-request send-spoe-group iprep g1"))
	px := cfg.Proxy("f", KindFrontend)
	e := px.SPOEEngine("iprep")
	require.NotNil(t, e)
	a := e.Agent
	require.Equal(t, "a1", a.Name)
	require.Equal(t, "agents", a.Backend)
	require.Equal(t, "iprep", a.VarPrefix)
	require.Equal(t, "err", a.SetOnError)
	require.True(t, a.ContinueOnError)
	require.False(t, a.Pipelining)
	require.True(t, a.Async)
	require.Equal(t, []string{"extra", "x.y"}, a.RegisterVarNames)
	require.Equal(t, int64(10e6), a.ProcessingTimeout.Nanoseconds())
	require.Equal(t, 5, a.MaxConnRate)
	require.Equal(t, 2, a.MaxErrRate)
	require.True(t, a.LogGlobal)
	require.True(t, a.DontLogNormal)
	require.Len(t, a.Logs, 1)
	require.Equal(t, "stderr", a.Logs[0].Target)
	require.Equal(t, "local1", a.Logs[0].Facility)
	require.Equal(t, "warning", a.Logs[0].Level)
	require.Len(t, e.Events["on-frontend-http-request"], 1)
	m := e.Events["on-frontend-http-request"][0]
	require.Equal(t, []SPOEArg{{"ip", "src"}, {"", "hdr(host)"}, {"port", "src_port,add(1)"}}, m.Args)
	require.NotNil(t, m.Cond)
	require.Equal(t, "m2", e.Groups["g1"].Messages[0].Name)
	r := px.HTTP.RequestRules[0]
	require.Equal(t, "send-spoe-group", r.Action)
	require.Equal(t, "iprep", r.Name)
	require.Equal(t, "g1", r.Value)

	// "no log" forgets the lines before it; "no option dontlog-normal"
	// the option.
	quiet := strings.Replace(spoeConf, "option dontlog-normal", "option dontlog-normal\n    no log\n    no option dontlog-normal", 1)
	a = mustParse(t, spoeConfig(t, quiet, "")).Proxy("f", KindFrontend).SPOEEngine("iprep").Agent
	require.False(t, a.LogGlobal)
	require.Empty(t, a.Logs)
	require.False(t, a.DontLogNormal)

	// Without an engine name, the file has no scope and the engine is
	// named after its agent, whose name is the default prefix.
	anon := strings.SplitN(spoeConf, "[other]", 2)[0]
	anon = strings.Replace(strings.Replace(anon, "[iprep]\n", "", 1), "    option var-prefix iprep\n", "", 1)
	text := strings.Replace(spoeConfig(t, anon, "tcp-request content send-spoe-group a1 g1"), "engine iprep ", "", 1)
	cfg = mustParse(t, text)
	px = cfg.Proxy("f", KindFrontend)
	e = px.SPOEEngine("a1")
	require.NotNil(t, e)
	require.Equal(t, "a1", e.Agent.VarPrefix)
	require.Equal(t, "send-spoe-group", px.Stick.ContentRules[0].Action)
	require.Equal(t, "a1", px.Stick.ContentRules[0].Var)
	require.Equal(t, "g1", px.Stick.ContentRules[0].Key)
}

// The refusals haproxy 2.6 makes of the same files, at the filter's line
// (4) or the rule's (5).
func TestSPOEErrors(t *testing.T) {
	base := strings.SplitN(spoeConf, "[other]", 2)[0]
	for _, tc := range []struct {
		name, conf, rule string
		line             int
		sentinel         error
		msg              string
	}{
		{"unknown event", strings.Replace(base, "on-frontend-http-request", "on-bogus", 1), "", 4, ErrBadValue, "spoe.conf:22: bad value: 'event': unknown event 'on-bogus'"},
		{"no backend", strings.Replace(base, "use-backend agents", "use-backend nope", 1), "", 4, ErrReference, "unknown backend 'nope' used by SPOE agent 'a1'"},
		{"http backend", strings.Replace(base, "use-backend agents", "use-backend web", 1), "", 4, ErrReference, "backend 'web' used by SPOE agent 'a1' declared at"},
		{"no use-backend", strings.Replace(base, "    use-backend agents\n", "", 1), "", 4, ErrReference, "no backend declared for SPOE agent 'a1'"},
		{"group with unknown message", strings.Replace(base, "messages m2", "messages m3", 1), "", 4, ErrReference, "SPOE group 'g1' uses the undefined SPOE message 'm3'"},
		{"agent with unknown message", strings.Replace(base, "messages m1", "messages m1 mx", 1), "", 4, ErrReference, "SPOE agent 'a1' uses the undefined SPOE message 'mx'"},
		{"no agent in scope", strings.Replace(base, "[iprep]", "[nope]", 1), "", 4, ErrBadValue, "no SPOE agent found in file"},
		{"bad fetch", strings.Replace(base, "args meth=method", "args meth=nosuchfetch", 1), "", 4, ErrBadValue, "spoe.conf:24: bad value: 'args': unknown fetch method: 'nosuchfetch'"},
		{"unknown agent keyword", strings.Replace(base, "groups g1", "groups g1\n    bogus 1", 1), "", 4, ErrUnknownKeyword, "'bogus' in a spoe-agent section"},
		{"agent log target", strings.Replace(base, "groups g1", "groups g1\n    log bogus", 1), "", 4, ErrBadValue, "spoe.conf:5: bad value: 'log': "},
		{"maxconnrate alone", strings.Replace(base, "groups g1", "groups g1\n    maxconnrate", 1), "", 4, ErrBadValue, "spoe.conf:5: bad value: 'maxconnrate': expects an integer argument"},
		{"maxerrrate twice", strings.Replace(base, "groups g1", "groups g1\n    maxerrrate 1 2", 1), "", 4, ErrBadValue, "'maxerrrate': cannot handle unexpected argument '2'"},
		{"maxerrrate word", strings.Replace(base, "groups g1", "groups g1\n    maxerrrate abc", 1), "", 4, ErrBadValue, "'maxerrrate': invalid number \"abc\""},
		{"bad var-prefix", strings.Replace(base, "var-prefix iprep", "var-prefix ip-rep", 1), "", 4, ErrBadValue, "invalid character '-' in 'ip-rep'"},
		{"two agents", base + "spoe-agent a2\n", "", 4, ErrBadValue, "only one 'spoe-agent' per SPOE scope"},
		{"unknown group", base, "http-request send-spoe-group iprep g2", 5, ErrReference, "unable to find SPOE group 'g2' into SPOE engine 'iprep' configuration"},
		{"unknown engine", base, "http-request send-spoe-group iprepx g1", 5, ErrReference, "unable to find SPOE engine 'iprepx' used by the send-spoe-group 'g1'"},
		{"missing group", base, "http-request send-spoe-group iprep", 5, ErrBadValue, "expects 2 arguments: <engine-id> <group-id>"},
		{"tcp missing group", base, "tcp-request content send-spoe-group iprep", 5, ErrBadValue, "expects 2 arguments: <engine-id> <group-id>"},
		{"group not the agent's", strings.Replace(base, "    groups g1\n", "", 1), "http-request send-spoe-group iprep g1", 5, ErrReference, "unable to find SPOE group 'g1'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rule := tc.rule
			if rule == "" {
				rule = "http-request send-spoe-group iprep g1"
			}
			_, err := parse(t, spoeConfig(t, tc.conf, rule))
			require.Error(t, err)
			require.ErrorIs(t, err, tc.sentinel)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tc.line, ce.Line, err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
	// A missing file names itself.
	text := strings.Replace(spoeConfig(t, base, "http-request send-spoe-group iprep g1"), "config /", "config /nonexistent/", 1)
	_, err := parse(t, text)
	require.ErrorContains(t, err, "cannot read the SPOE configuration")
}

func TestSPOEWarnings(t *testing.T) {
	base := strings.SplitN(spoeConf, "[other]", 2)[0]
	conf := strings.Replace(base, "    event on-frontend-http-request if local\n", "", 1)
	conf = strings.Replace(conf, "    timeout idle 2m\n", "", 1)
	cfg := mustParse(t, spoeConfig(t, conf, "http-request send-spoe-group iprep g1"))
	joined := strings.Join(cfg.Warnings, "\n")
	require.Contains(t, joined, "ignoring SPOE message 'm1' without event")
	require.Contains(t, joined, "missing timeouts for SPOE agent 'a1'")
}

// Any SPOE file reads or is refused, with the file and line of each
// fault, never a panic.
func FuzzSPOEFile(f *testing.F) {
	f.Add([]byte(spoeConf), "iprep")
	f.Add([]byte(spoeConf), "")
	f.Add([]byte("[e]\nspoe-agent a\n use-backend b\nspoe-message m\n args x=src\n event on-client-session if { src 1.2.3.4 }\n"), "e")
	f.Add([]byte("spoe-agent a\n timeout hello 1\n option set-on-error err\n no option async\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, engine string) {
		p := &parser{cfg: &Config{Global: Global{BufSize: DefaultBufSize}, Patterns: acl.NewRefs()}}
		e, errs := p.parseSPOEFile("fuzz.conf", data, engine)
		if len(errs) > 0 {
			require.Nil(t, e)
			for _, err := range errs {
				require.True(t, strings.Contains(err.Error(), "fuzz.conf") || errors.Is(err, ErrReference), err.Error())
			}
			return
		}
		require.NotEmpty(t, e.Name)
		require.NotEmpty(t, e.Agent.Backend)
		require.NotEmpty(t, e.Agent.VarPrefix)
		for ev, ms := range e.Events {
			require.True(t, spoeEvents[ev], ev)
			for _, m := range ms {
				require.Equal(t, ev, m.Event)
			}
		}
	})
}
