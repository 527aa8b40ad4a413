package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const tcpResBase = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nbackend b\n    stick-table type ip size 10 store gpc0,gpt0\n%s    server s 127.0.0.1:1\n"

func TestTCPResponseRules(t *testing.T) {
	cfg := mustParse(t, strings.Replace(tcpResBase, "%s", `    tcp-response inspect-delay 2s
    tcp-response content accept if { res.payload(0,4) -m str GOOD }
    tcp-response content reject if { res.len gt 10 }
    tcp-response content close unless { res.ssl_hello_type 2 }
    tcp-response content set-var(txn.a) res.payload_lv(0,1)
    tcp-response content set-var-fmt(txn.b) "%[res.len]"
    tcp-response content unset-var(txn.a)
    tcp-response content sc-inc-gpc0(1)
    tcp-response content sc-set-gpt0 res.len
    tcp-response content set-log-level silent
    tcp-response content set-nice 10
    tcp-response inspect-delay 5s
`, 1))
	st := cfg.Proxy("b", KindBackend).Stick
	require.Equal(t, 2*time.Second, st.ResponseDelay, "the first delay stays, as in haproxy")
	require.Len(t, cfg.Warnings, 1)
	require.Contains(t, cfg.Warnings[0], "lb.cfg:19: ignoring tcp-response inspect-delay (was already defined)")
	var got []string
	for _, r := range st.ResponseRules {
		got = append(got, r.Action+"|"+r.Var+"|"+r.Key)
	}
	require.Equal(t, []string{"accept||", "reject||", "close||", "set-var|txn.a|res.payload_lv(0,1)", "set-var-fmt|txn.b|%[res.len]",
		"unset-var|txn.a|", "sc-inc-gpc0||", "sc-set-gpt0||res.len", "set-log-level||", "set-nice||"}, got)
	require.Equal(t, 1, st.ResponseRules[6].Slot)
	require.Equal(t, -1, st.ResponseRules[8].LogLevel)
	require.Equal(t, 9, st.ResponseRules[0].Pos.Line)
	require.NotNil(t, st.ResponseRules[2].Cond)
}

func TestTCPResponseRefused(t *testing.T) {
	for _, tc := range []struct {
		where, line string
		err         error
		want        string
	}{
		{"frontend", "tcp-response content accept", ErrMisplaced, "only allowed in 'backend' sections"},
		{"frontend", "tcp-response inspect-delay 1s", ErrMisplaced, "only allowed in 'backend' sections"},
		{"defaults", "tcp-response content accept", ErrMisplaced, "only allowed in 'backend' sections"},
		{"backend", "tcp-response content", ErrUnknownKeyword, "(got '')"},
		{"backend", "tcp-response content track-sc0 src", ErrUnknownKeyword, "(got 'track-sc0')"},
		{"backend", "tcp-response content capture res.len len 3", ErrUnknownKeyword, "(got 'capture')"},
		{"backend", "tcp-response foo", ErrBadValue, "expects 'inspect-delay' or 'content'"},
		{"backend", "tcp-response inspect-delay", ErrBadValue, "expects a positive delay"},
		{"backend", "tcp-response inspect-delay -1", ErrBadValue, "expects a positive delay"},
		{"backend", "tcp-response content accept now", ErrBadValue, "only accepts 'if' or 'unless'"},
		{"backend", "tcp-response content silent-drop rst-ttl 3", ErrBadValue, "only accepts 'if' or 'unless'"},
		{"backend", "tcp-response content set-tos", ErrBadValue, "expects exactly 1 argument"},
		{"backend", "tcp-response content lua.foo", ErrUnknownKeyword, "unknown action 'lua.foo'"},
		{"backend", "tcp-response content ot-group a b", ErrUnsupported, "OpenTracing"},
		{"backend", "tcp-response content sc-inc-gpc0(3)", ErrBadValue, "stick counter"},
		{"backend", "tcp-response content set-mark 12x", ErrBadValue, "invalid character starting at 'x'"},
		{"backend", "tcp-response content sc-inc-gpc(1,0) 5", ErrBadValue, "only accepts 'if' or 'unless'"},
		{"backend", "tcp-response content sc-set-gpt(0,0) req.len", ErrMisplaced, "'request buffer'"},
		{"backend", "tcp-response content set-log-level", ErrBadValue, "set-log-level"},
		{"backend", "tcp-response content set-var(txn.a) req.len", ErrMisplaced, "'request buffer'"},
		{"backend", "tcp-response content set-var(txn.a) req.hdr(x)", ErrMisplaced, "'HTTP request headers'"},
		{"backend", "tcp-response content sc-set-gpt0(0) req.len", ErrMisplaced, "fetch method 'req.len'"},
		{"backend", "tcp-response content set-var(txn.a) res.payload(0)", ErrBadValue, "res.payload"},
		{"backend", "tcp-response content send-spoe-group a", ErrBadValue, "expects 2 arguments"},
		{"frontend", "tcp-request content set-var(txn.a) res.len", ErrMisplaced, "'response buffer'"},
		{"frontend", "tcp-request content set-var(txn.a) rep_ssl_hello_type", ErrMisplaced, "'response buffer'"},
		{"frontend", "http-request set-var(txn.a) res.payload(0,1)", ErrMisplaced, "'response buffer'"},
		{"frontend", "log-format %[res.len]", ErrBadValue, "res.len"},
	} {
		t.Run(tc.where+" "+tc.line, func(t *testing.T) {
			text := "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
			switch tc.where {
			case "defaults":
				text += "    " + tc.line + "\nbackend b\n    server s 127.0.0.1:1\n"
			case "frontend":
				text += "frontend f\n    bind 127.0.0.1:1\n    " + tc.line + "\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
			default:
				text += "backend b\n    " + tc.line + "\n    server s 127.0.0.1:1\n"
			}
			_, err := parse(t, text)
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.err), "%v", err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "lb.cfg:")
		})
	}
}

// FuzzTCPResponse: whatever follows "tcp-response", the parser answers
// with a rule of a known action or an error naming the line.
func FuzzTCPResponse(f *testing.F) {
	for _, s := range []string{"content accept", "inspect-delay 1s", "content reject if { res.len gt 3 }",
		"content set-var(txn.a) res.payload(0,3)", "content sc-set-gpt0(2) res.payload_lv(0,1,+1)", "content close unless { rep_ssl_hello_type 2 }",
		"content send-spoe-group e g", "content set-var-fmt(sess.x) %[res.len]", "content set-nice -3", "content sc-inc-gpc1(", "content set-var(", "content"} {
		f.Add(s)
	}
	known := map[string]bool{"accept": true, "reject": true, "close": true, "set-var": true, "set-var-fmt": true, "unset-var": true,
		"set-log-level": true, "set-nice": true, "sc-inc-gpc0": true, "sc-inc-gpc1": true, "sc-set-gpt0": true, "send-spoe-group": true}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\r") {
			return
		}
		c, err := Parse(Source{Name: "fuzz.cfg", Data: []byte(strings.Replace(tcpResBase, "%s", "    tcp-response "+line+"\n", 1))})
		if err != nil {
			var ce *Error
			require.True(t, errors.As(err, &ce), "error without position: %v", err)
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.cfg:"), err.Error())
			return
		}
		st := c.Proxy("b", KindBackend).Stick
		require.GreaterOrEqual(t, st.ResponseDelay, time.Duration(0))
		for _, r := range st.ResponseRules {
			require.True(t, known[r.Action], "action %q", r.Action)
			require.True(t, r.Slot >= 0 && r.Slot < 3)
		}
	})
}
