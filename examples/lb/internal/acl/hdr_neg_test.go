package acl

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// httpCtx is a context carrying a request.
type httpCtx struct {
	plain
	req *htx.Message
}

func (c httpCtx) HTTPRequest() *htx.Message { return c.req }

func newHTTPCtx(fields ...string) httpCtx {
	var m htx.Message
	m.SetRequest("GET", "", "", "/")
	for i := 0; i+1 < len(fields); i += 2 {
		m.Add(fields[i], fields[i+1])
	}
	return httpCtx{plain: plain{netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("127.0.0.1:80")}, req: &m}
}

func TestNegatedAnonymousACL(t *testing.T) {
	set := mustSet(t, "yes always_true")
	checkConds(t, set, []condCase{
		{"if !{ src 8.8.8.8 }", "8.8.8.8:1", false},
		{"if !{ src 8.8.8.8 }", "1.1.1.1:1", true},
		{"if !!{ src 8.8.8.8 }", "8.8.8.8:1", true},
		{"if ! !{ src 8.8.8.8 }", "8.8.8.8:1", true},
		{"if ! ! { src 8.8.8.8 }", "1.1.1.1:1", false},
		{"if yes !{ src 8.8.8.8 }", "1.1.1.1:1", true},
		{"if { src 1.1.1.1 } || !{ src 8.8.8.8 }", "8.8.8.8:1", false},
		{"if { src 1.1.1.1 } || !{ src 8.8.8.8 }", "9.9.9.9:1", true},
		{"unless !{ src 8.8.8.8 }", "8.8.8.8:1", true},
		{"if !yes", "1.1.1.1:1", false},
		{"if !!yes", "1.1.1.1:1", true},
	})
	// A lone "!" at the end or before "or" is dropped, as haproxy does
	// (TestInteropConditionOperatorsMatchHAProxy).
	for _, bad := range []string{"if !{ src 8.8.8.8", "if !}", "if !{src 8.8.8.8 }"} {
		_, err := ParseCond(strings.Fields(bad), set)
		require.Error(t, err, bad)
	}
}

func TestHdrMatchesEveryValueInACLsAndTheLastAsSample(t *testing.T) {
	c := newHTTPCtx(
		"X-Forwarded-For", "10.0.0.1, 10.0.0.2",
		"Host", "example.org",
		"X-Forwarded-For", "192.168.1.1",
		"X-Quoted", `"a,b", c`,
	)
	checkExprs(t, c, []exprCase{
		{"hdr(x-forwarded-for) 10.0.0.1", true}, // first value of the first field
		{"hdr(x-forwarded-for) 10.0.0.2", true},
		{"hdr(x-forwarded-for) 192.168.1.1", true}, // the last one
		{"hdr(x-forwarded-for) 10.0.0.3", false},
		{"hdr(x-forwarded-for) -m beg 192.", true},
		{"hdr_beg(x-forwarded-for) 10.0.0.", true},
		{"req.hdr(X-Forwarded-For) 10.0.0.2", true},
		{"hdr(x-forwarded-for,1) 10.0.0.1", true},
		{"hdr(x-forwarded-for,1) 192.168.1.1", false},
		{"hdr(x-forwarded-for,2) 10.0.0.2", true},
		{"hdr(x-forwarded-for,-1) 192.168.1.1", true},
		{"hdr(x-forwarded-for,0) 10.0.0.2", true}, // 0 is no occurrence: every value
		{"hdr(x-forwarded-for,-1) 10.0.0.1", false},
		{"hdr(x-forwarded-for,-3) 10.0.0.1", true},
		{"hdr(x-forwarded-for,-4) 10.0.0.1", false},
		{"hdr(x-forwarded-for,4) 10.0.0.1", false},
		{`hdr(x-quoted) "a,b"`, true}, // a comma inside quotes does not split
		{"hdr(x-quoted) c", true},
		{"hdr(x-absent) -m found", false},
		{"hdr(host) -m found", true},
		{"hdr(host) example.org", true},
	})

	for _, tc := range []struct {
		fetch string
		want  string
		found bool
	}{
		{"hdr(x-forwarded-for)", "192.168.1.1", true},
		{"req.hdr(X-Forwarded-For)", "192.168.1.1", true},
		{"hdr(x-forwarded-for,1)", "10.0.0.1", true},
		{"hdr(x-forwarded-for,-2)", "10.0.0.2", true},
		{"hdr(x-forwarded-for,9)", "", false},
		{"hdr(x-forwarded-for,0)", "192.168.1.1", true},
		{"hdr(x-quoted)", "c", true},
		{"hdr(x-absent)", "", false},
	} {
		_, fn, err := CompileFetch(tc.fetch)
		require.NoError(t, err, tc.fetch)
		s, ok := fn(c)
		require.Equal(t, tc.found, ok, tc.fetch)
		require.Equal(t, tc.want, s.String(), tc.fetch)
	}
	for _, bad := range []string{"hdr(x,y)", "hdr(,1)", "hdr()", "hdr(x,1.5)"} {
		_, _, err := CompileFetch(bad)
		require.Error(t, err, bad)
	}
}

func TestCutValue(t *testing.T) {
	for _, tc := range []struct{ in, first, rest string }{
		{"a", "a", "<nil>"},
		{" a , b", "a", " b"},
		{`"x,y" ,z`, `"x,y"`, "z"},
		{`"x\",y",z`, `"x\",y"`, "z"},
		{",", "", ""},
	} {
		f, r := CutValue([]byte(tc.in))
		rest := string(r)
		if r == nil {
			rest = "<nil>"
		}
		require.Equal(t, tc.first, string(f), tc.in)
		require.Equal(t, tc.rest, rest, tc.in)
	}
}

// TestNegationAgreesWithHAProxy checks that the conditions lb accepts or
// refuses here are the ones haproxy -c accepts or refuses. (haproxy also
// takes a dangling "!" with no ACL after it, "if !", as an empty
// condition; lb refuses it.)
func TestNegationAgreesWithHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy not installed")
		}
		t.Skip("haproxy not installed: skipping the comparison with haproxy -c")
	}
	set := mustSet(t, "yes always_true")
	dir := t.TempDir()
	for _, cond := range []string{
		"if !{ src 1.2.3.4 }",
		"if ! { src 1.2.3.4 }",
		"if !!{ src 1.2.3.4 }",
		"if ! ! { src 1.2.3.4 }",
		"if { src 1.2.3.4 } || !{ src 5.6.7.8 }",
		"if !yes",
		"if !{src 1.2.3.4 }",
		"if !{ src 1.2.3.4",
		"if { hdr(x-forwarded-for,-1) 10.0.0.1 }",
		"if { hdr(host,0) a }",
		"if { hdr(host,x) a }",
	} {
		_, lbErr := ParseCond(strings.Fields(cond), set)
		cfg := fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:18998
    acl yes always_true
    http-request deny %s
    default_backend b
backend b
    server s 127.0.0.1:1
`, cond)
		path := filepath.Join(dir, "t.cfg")
		require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
		out, hpErr := exec.Command(bin, "-c", "-f", path).CombinedOutput()
		require.Equal(t, hpErr == nil, lbErr == nil, "%q: haproxy -c says %v (%s), lb says %v", cond, hpErr, out, lbErr)
	}
}
