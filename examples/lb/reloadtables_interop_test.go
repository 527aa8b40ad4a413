package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reloadTablesCfg is served by haproxy -W and lb -W, then reloaded into
// its second form (%[5]s and the rest differ): "kept" is shared through
// the local peer with the same definition, "private" with no peers
// section, "retyped" changes its key type, and "restored" its size, its
// store list (a type added, two dropped, a rate's period changed) and its
// expire.
const reloadTablesCfg = `global
    stats socket %[1]s level admin
    localpeer me
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers mypeers
    peer me 127.0.0.1:%[2]d
frontend fe
    bind 127.0.0.1:%[3]d
    http-request track-sc0 src table kept
    http-request track-sc1 src table private
    http-request track-sc2 src table restored
    http-request sc-inc-gpc0(0) unless { path /peek }
    http-request sc-inc-gpc0(1) unless { path /peek }
    http-request sc-inc-gpc0(2) unless { path /peek }
    http-request return status 200 content-type text/plain lf-string "kept=%%[sc_get_gpc0(0)] private=%%[sc_get_gpc0(1)] restored=%%[sc_get_gpc0(2)] retyped=%%[src,table_gpc0(retyped)]\n"
backend kept
    stick-table type ip size 100 expire 10m store gpc0,conn_cnt,http_req_cnt,http_req_rate(10s) peers mypeers
backend private
    stick-table type ip size 100 expire 10m store gpc0,http_req_cnt
backend retyped
    stick-table type %[4]s size 100 expire 10m store gpc0 peers mypeers
backend restored
    stick-table %[5]s peers mypeers
`

// reloadTablesRun runs bin -W on reloadTablesCfg, tracks a client three
// times, reloads into the second configuration, and returns "show table"
// of each table and the fetches of one request, after the reload.
func reloadTablesRun(t *testing.T, bin string) (tables []string, fetches string) {
	t.Helper()
	ports := freePorts(t, 2)
	sock := filepath.Join(t.TempDir(), "s.sock")
	first := fmt.Sprintf(reloadTablesCfg, sock, ports[0], ports[1], "ip",
		"type ip size 100 expire 10m store gpc0,gpc1,http_req_rate(10s),conn_cnt")
	second := fmt.Sprintf(reloadTablesCfg, sock, ports[0], ports[1], "string len 32",
		"type ip size 50 expire 1m store gpc0,http_req_rate(20s),conn_cur")
	path := writeFile(t, "reload.cfg", first)
	p := startCommand(t, bin, "-W", "-f", path)
	p.waitOutput(t, "Loading success.", 1)
	if bin == haproxyBin(t) {
		waitMasterSignals(t, p)
	}
	require.Eventually(t, func() bool { _, err := cliAnswer(sock, "show info"); return err == nil }, 20*time.Second, 10*time.Millisecond)
	url := fmt.Sprintf("http://127.0.0.1:%d/", ports[1])
	for range 3 {
		get(t, url)
	}
	cliCommand(t, sock, "set table retyped key 127.0.0.1 data.gpc0 5")
	if bin == haproxyBin(t) {
		// haproxy's worker teaches its successor only once its own
		// initial resync is over, 5 s after it started when no remote
		// peer can teach it; lb's is over at once.
		waitPeersSynced(t, sock)
	}
	replaceFile(t, path, second)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR2))
	p.waitOutput(t, "Loading success.", 2)
	if bin == haproxyBin(t) {
		// The former worker leaves once its lesson is over; lb's
		// handover copies the tables before the new configuration
		// serves.
		p.waitOutput(t, "Former worker", 1)
	}
	for _, name := range []string{"kept", "private", "retyped", "restored"} {
		tables = append(tables, normTable(cliCommand(t, sock, "show table "+name)))
	}
	fetches = get(t, url+"peek")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.exitCode(t)
	return tables, fetches
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

var (
	peersFlags = regexp.MustCompile(`id=mypeers .*flags=0x([0-9a-f]+)`)
	entryPtr   = regexp.MustCompile(`(?m)^0x[0-9a-f]+:`)
	entryExp   = regexp.MustCompile(`exp=(\d+)`)
)

// waitPeersSynced waits until haproxy's "show peers" says the section is
// done with its initial resync, from the local and the remote peers.
func waitPeersSynced(t *testing.T, sock string) {
	t.Helper()
	require.Eventually(t, func() bool {
		out, err := cliAnswer(sock, "show peers")
		m := peersFlags.FindStringSubmatch(out)
		if err != nil || m == nil {
			return false
		}
		f, err := strconv.ParseUint(m[1], 16, 32)
		return err == nil && f&3 == 3
	}, 20*time.Second, 50*time.Millisecond, "haproxy's peers section never synced")
}

// normTable blanks the entries' addresses and gives their expiries in
// minutes, rounded up.
func normTable(out string) string {
	out = entryPtr.ReplaceAllString(out, "PTR:")
	return entryExp.ReplaceAllStringFunc(out, func(s string) string {
		ms, _ := strconv.Atoi(strings.TrimPrefix(s, "exp="))
		return fmt.Sprintf("exp=%dmin", (ms+59999)/60000)
	})
}

// A reload keeps the entries of a table shared through the local peer,
// with their remaining expiry, as haproxy's old worker teaches its
// successor; a table without peers starts empty, as does one whose key
// type changed; one whose size, store list and expire changed keeps the
// data it still stores and each entry's time left, even beyond its new
// expire.
func TestInteropReloadKeepsTables(t *testing.T) {
	htables, hfetch := reloadTablesRun(t, haproxyBin(t))
	ltables, lfetch := reloadTablesRun(t, lbBinary(t))
	require.Equal(t, htables, ltables, "show table after the reload, haproxy then lb")
	require.Equal(t, hfetch, lfetch, "fetches after the reload, haproxy then lb")
	// What haproxy 2.6 does, spelled out.
	require.Contains(t, htables[0], "key=127.0.0.1 use=0 exp=10min gpc0=3 conn_cnt=3 http_req_cnt=3 http_req_rate(10000)=3")
	require.Contains(t, htables[1], "used:0")
	require.Contains(t, htables[2], "type: string, size:100, used:0")
	require.Contains(t, htables[3], "key=127.0.0.1 use=0 exp=10min gpc0=3 conn_cur=0 http_req_rate(20000)=3")
	require.Equal(t, "kept=3 private=0 restored=3 retyped=0", hfetch)
}
