package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropEnvironmentVariablesMatchHAProxy: the environment variables
// of a configuration, as haproxy 2.6 expands them: $NAME and ${NAME} in
// addresses, quoted or not; within double quotes $NAME, ${NAME},
// ${NAME-DEFAULT}, the pseudo-variables $.FILE, $.LINE and $.SECTION,
// and ${NAME[*]}, which becomes several words.
func TestInteropEnvironmentVariablesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	t.Setenv("LB_ENV_HOST", "127.0.0.1")
	t.Setenv("LB_ENV_NAME", "world")
	t.Setenv("LB_ENV_EMPTY", "")
	t.Setenv("LB_ENV_HDR", "X-Env   from-env")
	os.Unsetenv("LB_ENV_UNSET")
	run := func(start func(text, addr string)) string {
		p := freePorts(t, 1)
		t.Setenv("LB_ENV_PORT", fmt.Sprint(p[0]))
		// nbthread is given so that haproxy's lines are numbered as
		// written (the helper adds it otherwise).
		start(`global
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind $LB_ENV_HOST:${LB_ENV_PORT}
    http-request return status 200 content-type text/plain lf-string "hello $LB_ENV_NAME.x ${LB_ENV_NAME}x $LB_ENV_NAMEx [${LB_ENV_UNSET-def val}] [${LB_ENV_EMPTY-def}] '$LB_ENV_NAME' $.SECTION:$.LINE" hdr "${LB_ENV_HDR[*]}"
`, fmt.Sprintf("127.0.0.1:%d", p[0]))
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[0]))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.Header.Get("X-Env") + " | " + string(body)
	}
	want := run(func(text, addr string) { runHAProxy(t, text, addr) })
	got := run(func(text, _ string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Equal(t, "from-env | hello world.x worldx  [def val] [] 'world' web:10", got)
}
