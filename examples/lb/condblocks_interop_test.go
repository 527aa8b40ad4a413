package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// condBase follows each case of the verdict test: a valid proxy, so that
// only the case's lines decide.
const condBase = `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:1
    http-request return status 200
`

// TestInteropCondBlocksVerdictsMatchHAProxy: haproxy 2.6 -c and lb's
// parser accept and refuse the same conditional blocks: each predicate,
// negation, '&&', '||' and parentheses, nesting, .elif/.else, lines
// skipped unread in false branches, environment variables in
// conditions, the messages, and the block and condition errors. bool()
// constants are checked the same way.
func TestInteropCondBlocksVerdictsMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	t.Setenv("LB_CB_SET", "yes")
	os.Unsetenv("LB_CB_UNSET")
	cases := []string{
		".if 1\n.endif\n",
		".if 0\n bogus keyword\n.endif\n",
		".if 1\n bogus keyword\n.endif\n",
		"global\n.if 0\n bogus\n.elif 1\n maxconn 10\n.else\n bogus2\n.endif\n",
		"global\n.if 1\n maxconn 10\n.elif foo(\n.else\n bogus2\n.endif\n",
		".if 0\n.elif foo(\n.endif\n",
		".if 0\n.if foo(\n.endif\n.endif\n",
		".if 0\n bogus \"unterminated\n.endif\n",
		".if 0\n.bogus\n.alert \"x\"\n.endif\n",
		".if defined(LB_CB_SET)\n.else\n bogus\n.endif\n",
		".if defined(LB_CB_UNSET)\n bogus\n.endif\n",
		".if !defined(LB_CB_UNSET) && streq(\"${LB_CB_SET}\",yes)\n.else\n bogus\n.endif\n",
		".if \"${LB_CB_UNSET}\"\n bogus\n.endif\n",
		".if \"${LB_CB_SET}\"\n.endif\n",
		".if feature(OPENSSL)\n.else\n bogus\n.endif\n",
		".if feature(QUIC)\n bogus\n.endif\n",
		".if feature(SSL) || feature(NOPE)\n bogus\n.endif\n",
		".if streq(a b,a  b) && strneq(a,b)\n.else\n bogus\n.endif\n",
		".if streq( a,a)\n bogus\n.endif\n",
		".if version_atleast(2.6) && version_atleast(2.6.12) && version_before(2.6.13) && version_atleast(2.6-dev1)\n.else\n bogus\n.endif\n",
		".if version_atleast(3.1-dev8) || version_before(2.6.12) || version_atleast(2.6.12-1)\n bogus\n.endif\n",
		".if version_atleast(abc) && !version_before()\n.else\n bogus\n.endif\n",
		".if !(0 || 1) && 1\n bogus\n.endif\n",
		".if (1 || 0) && !0 && 0x10 && -1 && 010\n.else\n bogus\n.endif\n",
		".if 00\n bogus\n.endif\n",
		".if\n bogus\n.endif\n",
		".if 1\n.if 0\n bogus\n.else\n.if 1\n.endif\n.endif\n.endif\n",
		".if 0\n.elif 0\n.elif 1\n.else\n bogus\n.endif\n",
		strings.Repeat(".if 1\n", 99) + strings.Repeat(".endif\n", 99),
		strings.Repeat(".if 1\n", 100) + strings.Repeat(".endif\n", 100),
		".if " + strings.Repeat("(", 340) + "1" + strings.Repeat(")", 340) + "\n.endif\n",
		".if " + strings.Repeat("(", 341) + "1" + strings.Repeat(")", 341) + "\n.endif\n",
		".notice \"n\"\n.warning \"w\"\n.diag \"d\"\n",
		".notice a b\n",
		".alert \"stop\"\n",
		".if 0\n.alert \"stop\"\n.endif\n",
		".if 1\n",
		".else\n",
		".elif 1\n",
		".endif\n",
		".if 1\n.else\n.else\n.endif\n",
		".if 1\n.else\n.elif 1\n.endif\n",
		".if 1\n.endif extra\n",
		".if 0\n.else bad\n.endif\n",
		".bogus\n",
		".if foo\n.endif\n",
		".if foo(1)\n.endif\n",
		".if 1 2\n.endif\n",
		".if 1abc\n.endif\n",
		".if 1 &&\n.endif\n",
		".if (1\n.endif\n",
		".if !\n.endif\n",
		".if 1 & 1\n.endif\n",
		".if defined (HOME)\n.endif\n",
		".if defined(HOME\n.endif\n",
		".if streq(a)\n.endif\n",
		".if streq(a,b,c)\n.endif\n",
		".if !streq\n.endif\n",
		"frontend g\n    bind 127.0.0.1:2\n.if 1\n    http-request set-var(txn.a) bool(true)\n    http-request set-var(txn.b) bool(FALSE)\n    http-request set-var(txn.c) bool(True)\n    http-request set-var(txn.d) bool(1)\n    http-request set-var(txn.e) bool(0)\n.endif\n",
		"frontend g\n    bind 127.0.0.1:2\n    http-request set-var(txn.a) bool(2)\n",
		"frontend g\n    bind 127.0.0.1:2\n    http-request set-var(txn.a) bool(yes)\n",
		"frontend g\n    bind 127.0.0.1:2\n    http-request set-var(txn.a) bool(-1)\n",
	}
	for i, c := range cases {
		text := c + condBase
		out, err := exec.Command(bin, "-c", "-f", writeFile(t, fmt.Sprintf("cb%d.cfg", i), text)).CombinedOutput()
		want := err == nil
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			want = true // valid, no listener
		}
		_, lbErr := config.Parse(config.Source{Name: "cb.cfg", Data: []byte(text)})
		require.Equal(t, want, lbErr == nil, "case %d %q:\nhaproxy: %s\nlb: %v", i, c, out, lbErr)
	}
}

// TestInteropCondBlocksChooseLikeHAProxy: the blocks choose the bind
// port and the answer; haproxy and lb answer the same on the same port.
func TestInteropCondBlocksChooseLikeHAProxy(t *testing.T) {
	haproxyBin(t)
	t.Setenv("LB_CB_MODE", "blue")
	os.Unsetenv("LB_CB_UNSET")
	run := func(start func(text, addr string)) string {
		p := freePorts(t, 2)
		t.Setenv("LB_CB_P1", fmt.Sprint(p[0]))
		t.Setenv("LB_CB_P2", fmt.Sprint(p[1]))
		start(`global
    nbthread 1
.if version_atleast(2.6) && !defined(LB_CB_UNSET)
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
.endif
listen web
.if streq("${LB_CB_MODE}",green)
    bind 127.0.0.1:${LB_CB_P1}
.else
    bind 127.0.0.1:${LB_CB_P2}
.endif
.if feature(OPENSSL) && version_before(2.7)
  .if strneq("${LB_CB_MODE}",blue)
    http-request return status 200 content-type text/plain string "not blue"
  .elif 0
    http-request return status 200 content-type text/plain string "elif 0"
  .elif defined(LB_CB_MODE)
    http-request set-var(txn.t) bool(TRUE)
    http-request return status 200 content-type text/plain lf-string "blue %[var(txn.t)]"
  .else
    http-request return status 200 content-type text/plain string "else"
  .endif
.endif
    http-request return status 500
`, fmt.Sprintf("127.0.0.1:%d", p[1]))
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[1]))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	want := run(func(text, addr string) { runHAProxy(t, text, addr) })
	got := run(func(text, _ string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Equal(t, "200 blue 1", got)
}
