package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// extCheckScript is a check command that records its arguments and its
// environment (sorted) in files named after the run ("run" holds its
// name), then exits with the status "code" holds, or, when it holds
// "hang", becomes a sleep that outlives the check.
const extCheckScript = `#!/bin/sh
d='%s'
run=$(cat "$d/run")
echo "$@" > "$d/args.$run"
env | sort > "$d/env.$run"
c=$(cat "$d/code")
[ "$c" = hang ] && exec sleep 30
exit "$c"
`

// TestInteropExternalCheckMatchesHAProxy runs one configuration with
// option external-check under haproxy, then lb, while the check command
// passes, fails with status 3, hangs past inter, and passes again; a
// second backend's command does not exist. The command must get the same
// arguments and environment, the servers must change state with the same
// log lines, and show stat and show servers state must give the same
// check status. As an external check has inter to run, inter is a second:
// a busy machine can take more than 200 ms to fork the shell and run it,
// and then both balancers log timeouts the other may not have.
func TestInteropExternalCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "chk.sh")
	require.NoError(t, os.WriteFile(script, []byte(fmt.Sprintf(extCheckScript, dir)), 0o755))
	set := func(name, value string) {
		tmp := filepath.Join(dir, name+".tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(value+"\n"), 0o644))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
	}
	ports := freePorts(t, 3)
	sock := filepath.Join(dir, "stats.sock")
	text := fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
    external-check
    insecure-fork-wanted
defaults
    mode tcp
    log global
    option log-health-checks
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    timeout check 10s
listen l
    bind 127.0.0.1:%d
    option external-check
    external-check command %s
    external-check path /usr/bin:/bin
    server s 127.0.0.1:%d check inter 1000 rise 1 fall 1 id 7 maxconn 9
backend nx
    option external-check
    external-check command %s
    server s 127.0.0.1:%d check inter 200 rise 1 fall 1
`, sock, ports[0], script, ports[1], filepath.Join(dir, "nonexistent"), ports[2])

	// stat is the check_status, check_code and check_desc of proxy/s.
	stat := func(px string) string {
		out, err := cliAnswer(sock, "show stat")
		if err != nil {
			return ""
		}
		lines := strings.Split(out, "\n")
		head := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
		col := map[string]int{}
		for i, h := range head {
			col[h] = i
		}
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			if len(f) == len(head) && f[0] == px && f[1] == "s" {
				return strings.TrimPrefix(f[col["check_status"]], "* ") + " " + f[col["check_code"]] + " " + f[col["check_desc"]]
			}
		}
		return ""
	}
	// state is show servers state's op state, check status and check
	// result of l/s.
	state := func() string {
		out, err := cliAnswer(sock, "show servers state l")
		if err != nil {
			return ""
		}
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) > 11 && f[1] == "l" && f[3] == "s" {
				return fmt.Sprintf("op=%s status=%s result=%s", f[5], f[10], f[11])
			}
		}
		return ""
	}
	durRe := regexp.MustCompile(`check duration: \d+ms`)
	type result struct {
		stats, states, logs []string
		args, env           string
	}
	run := func(name string, start func(t *testing.T, text string) func() string) (r result) {
		t.Run(name, func(t *testing.T) {
			set("run", name)
			set("code", "0")
			logs := start(t, text)
			wait := func(want string) {
				t.Helper()
				var got string
				ok := assert.Eventually(t, func() bool { got = stat("l"); return got == want }, 10*time.Second, 20*time.Millisecond)
				if !ok {
					out, err := cliAnswer(sock, "show stat")
					t.Fatalf("want %q, last %q; %v %s", want, got, err, out)
				}
				r.stats = append(r.stats, got)
				r.states = append(r.states, state())
			}
			wait("PROCOK 0 External check passed")
			set("code", "3")
			wait("PROCERR 3 External check error")
			set("code", "hang")
			wait("PROCTOUT 3 External check timeout")
			set("code", "0")
			wait("PROCOK 0 External check passed")
			require.Eventually(t, func() bool { return strings.HasPrefix(stat("nx"), "PROCERR 255") }, 10*time.Second, 20*time.Millisecond)
			r.stats = append(r.stats, stat("nx"))
			for _, l := range strings.Split(logs(), "\n") {
				l = strings.TrimSpace(l)
				if strings.HasPrefix(l, "Health check for") || strings.HasPrefix(l, "Server ") {
					r.logs = append(r.logs, durRe.ReplaceAllString(l, "check duration: N"))
				}
			}
			// Each server's lines in order; the two servers' checks
			// run apart, their lines interleave as they come.
			sort.SliceStable(r.logs, func(i, j int) bool {
				return !strings.Contains(r.logs[i], "nx/s") && strings.Contains(r.logs[j], "nx/s")
			})
			args, err := os.ReadFile(filepath.Join(dir, "args."+name))
			require.NoError(t, err)
			env, err := os.ReadFile(filepath.Join(dir, "env."+name))
			require.NoError(t, err)
			r.args, r.env = string(args), string(env)
		})
		return r
	}
	want := run("haproxy", func(t *testing.T, text string) func() string { return startHAProxySocket(t, text, sock) })
	got := run("lb", func(t *testing.T, text string) func() string { return lbLogs(t)(text) })
	require.Equal(t, fmt.Sprintf("127.0.0.1 %d 127.0.0.1 %d\n", ports[0], ports[1]), want.args)
	require.Contains(t, want.env, "HAPROXY_SERVER_ID=7\nHAPROXY_SERVER_MAXCONN=9\n")
	require.Equal(t, want.args, got.args, "the command's arguments under haproxy, then lb")
	require.Equal(t, want.env, got.env, "the command's environment under haproxy, then lb")
	require.Equal(t, want.stats, got.stats, "show stat under haproxy, then lb")
	require.Equal(t, want.states, got.states, "show servers state under haproxy, then lb")
	require.Equal(t, want.logs, got.logs, "the log lines under haproxy, then lb")
}
