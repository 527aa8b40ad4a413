package peers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

const haproxyBin = testnet.HAProxyBin

// needHAProxy skips or fails the test without haproxy (testnet.NeedHAProxy).
func needHAProxy(t *testing.T) { testnet.NeedHAProxy(t) }

// haproxy is a running haproxy with an admin socket.
type haproxy struct {
	sock string
	logs *syncBuffer
}

type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// startHAProxy runs haproxy as local peer name on the configuration cfg,
// in which %SOCK% stands for the admin socket's path.
func startHAProxy(t *testing.T, name, cfg string) *haproxy {
	t.Helper()
	dir := t.TempDir()
	h := &haproxy{sock: filepath.Join(dir, "admin.sock"), logs: &syncBuffer{mu: make(chan struct{}, 1)}}
	cfg = strings.ReplaceAll(cfg, "%SOCK%", h.sock)
	path := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	if out, err := exec.Command(haproxyBin, "-c", "-L", name, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the config: %v\n%s\n%s", err, out, cfg)
	}
	cmd := exec.Command(haproxyBin, "-db", "-L", name, "-f", path)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", h.logs.String())
		}
	})
	for range 500 {
		if c, err := net.Dial("unix", h.sock); err == nil {
			c.Close()
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("haproxy did not open its socket")
	return nil
}

// cmd runs one command on haproxy's admin socket.
func (h *haproxy) cmd(t *testing.T, line string) string {
	t.Helper()
	c, err := net.Dial("unix", h.sock)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, line+"\n")
	require.NoError(t, err)
	out, err := io.ReadAll(bufio.NewReader(c))
	require.NoError(t, err)
	return string(out)
}

// waitShow polls "show table" until its output contains every want.
func (h *haproxy) waitShow(t *testing.T, table string, want ...string) string {
	t.Helper()
	var out string
	for range 500 {
		out = h.cmd(t, "show table "+table)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		if ok {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("haproxy's table %s lacks %q:\n%s", table, want, out)
	return ""
}

const interopTables = `
backend t1
    stick-table type ip size 1k expire 1m store gpc0,conn_cnt,http_req_rate(10s),server_id peers mypeers
backend t2
    stick-table type string len 16 size 1k expire 1m store gpt0 peers mypeers
backend t3
    stick-table type integer size 1k expire 1m store gpc1 peers mypeers
`

var interopDefs = [][2]string{
	{"t1", "type ip size 1k expire 1m store gpc0,conn_cnt,http_req_rate(10s),server_id"},
	{"t2", "type string len 16 size 1k expire 1m store gpt0"},
	{"t3", "type integer size 1k expire 1m store gpc1"},
}

// goPeer is a Section named gopeer sharing tables made from interopDefs.
func goPeer(t *testing.T, ln net.Listener, hapAddr string) (*Section, []*stick.Table) {
	t.Helper()
	var tabs []*stick.Table
	for _, d := range interopDefs {
		tabs = append(tabs, newTable(t, d[0], d[1]))
	}
	sec, err := New(Config{Name: "mypeers", Local: "gopeer", Peers: []Peer{{Name: "hap", Addr: hapAddr}}, Tables: tabs,
		Logf: func(f string, a ...any) { t.Logf(f, a...) }})
	require.NoError(t, err)
	return sec, tabs
}

// TestInteropHAProxyPeer syncs a Section with a real haproxy in both
// directions, over three key types, then restarts the Section empty and
// checks that haproxy teaches it every entry, its own and those it learned.
func TestInteropHAProxyPeer(t *testing.T) {
	needHAProxy(t)
	testnet.LeakCheck(t)
	ports := testnet.FreePorts(t, 1)
	ln := testnet.Listen(t)
	hapAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	h := startHAProxy(t, "hap", fmt.Sprintf(`global
    stats socket %%SOCK%% level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers mypeers
    peer hap %s
    peer gopeer %s
`, hapAddr, ln.Addr())+interopTables)

	sec, tabs := goPeer(t, ln, hapAddr)
	sec.Start(ln)

	// haproxy → Go, on each key type.
	h.cmd(t, "set table t1 key 10.0.0.1 data.gpc0 5 data.conn_cnt 11 data.server_id -3")
	h.cmd(t, "set table t2 key alice data.gpt0 42")
	h.cmd(t, "set table t3 key 123456 data.gpc1 8")
	waitValue(t, tabs[0], ip("10.0.0.1"), stick.DataGPC0, 5)
	waitValue(t, tabs[0], ip("10.0.0.1"), stick.DataConnCnt, 11)
	waitValue(t, tabs[0], ip("10.0.0.1"), stick.DataServerID, -3)
	waitValue(t, tabs[1], []byte("alice"), stick.DataGPT0, 42)
	waitValue(t, tabs[2], []byte{0, 1, 0xe2, 0x40}, stick.DataGPC1, 8)

	// Go → haproxy, a rate included.
	e, err := tabs[0].GetOrCreate(ip("10.0.0.2"))
	require.NoError(t, err)
	require.NoError(t, e.Set(stick.DataGPC0, 2))
	e.Inc(stick.DataHTTPReqRate, 6)
	e.TouchRelease()
	set(t, tabs[1], []byte("bob"), stick.DataGPT0, 17)
	set(t, tabs[2], []byte{0, 0, 0, 77}, stick.DataGPC1, 99)
	h.waitShow(t, "t1", "key=10.0.0.2 ", "gpc0=2 ", "http_req_rate(10000)=6")
	h.waitShow(t, "t2", "key=bob ", "gpt0=17")
	h.waitShow(t, "t3", "key=77 ", "gpc1=99")

	// A fresh, empty Go peer learns everything from haproxy.
	require.NoError(t, sec.Close())
	ln2, err := net.Listen("tcp", ln.Addr().String())
	require.NoError(t, err)
	sec2, tabs2 := goPeer(t, ln2, hapAddr)
	sec2.Start(ln2)
	defer sec2.Close()
	waitValue(t, tabs2[0], ip("10.0.0.1"), stick.DataGPC0, 5)
	waitValue(t, tabs2[0], ip("10.0.0.2"), stick.DataGPC0, 2)
	waitValue(t, tabs2[1], []byte("bob"), stick.DataGPT0, 17)
	waitValue(t, tabs2[2], []byte{0, 0, 0, 77}, stick.DataGPC1, 99)
	// haproxy has learned nothing in full itself, so its lesson is partial
	// and the Section ends its resync on its own 5 s timer.
	require.Eventually(t, sec2.Synced, 12*time.Second, 10*time.Millisecond, "the resync did not end")
}

// TestInteropHAProxyPeerArrays syncs gpt(N), gpc(N) and gpc_rate(N,p)
// with a real haproxy in both directions. haproxy's socket only reaches
// an array's element 0, so its side counts on the others with
// sc-inc-gpc and sc-set-gpt rules run by an HTTP request.
func TestInteropHAProxyPeerArrays(t *testing.T) {
	needHAProxy(t)
	testnet.LeakCheck(t)
	ports := testnet.FreePorts(t, 2)
	ln := testnet.Listen(t)
	hapAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	const def = "type ip size 1k expire 1m store http_req_cnt,gpt(2),gpc(3),gpc_rate(3,10s)"
	h := startHAProxy(t, "hap", fmt.Sprintf(`global
    stats socket %%SOCK%% level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers mypeers
    peer hap %s
    peer gopeer %s
frontend web
    bind 127.0.0.1:%d
    http-request track-sc0 src table ta
    http-request sc-inc-gpc(2,0)
    http-request sc-inc-gpc(2,0)
    http-request sc-set-gpt(1,0) 77
    http-request return status 200
backend ta
    stick-table %s peers mypeers
`, hapAddr, ln.Addr(), ports[1], def))

	tab := newTable(t, "ta", def)
	sec, err := New(Config{Name: "mypeers", Local: "gopeer", Peers: []Peer{{Name: "hap", Addr: hapAddr}},
		Tables: []*stick.Table{tab}, Logf: func(f string, a ...any) { t.Logf(f, a...) }})
	require.NoError(t, err)
	sec.Start(ln)
	defer sec.Close()

	// haproxy → Go: the request counts twice on gpc[2] and gpc_rate[2]
	// and tags gpt[1].
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	require.NoError(t, err)
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := io.ReadAll(c)
	c.Close()
	require.NoError(t, err)
	require.Contains(t, string(resp), "HTTP/1.1 200")
	h.waitShow(t, "ta", "key=127.0.0.1 ", "gpt0=0 gpt1=77 gpc0=0 gpc1=0 gpc2=2 gpc0_rate(10000)=0 gpc1_rate(10000)=0 gpc2_rate(10000)=2")
	key := ip("127.0.0.1")
	require.Eventually(t, func() bool {
		e, err := tab.Lookup(key)
		if err != nil {
			return false
		}
		defer e.Release()
		return e.GetElem(stick.DataGPC, 2) == 2 && e.GetElem(stick.DataGPT, 1) == 77 && e.GetElem(stick.DataGPCRate, 2) == 2
	}, 5*time.Second, 10*time.Millisecond, "haproxy's array values did not arrive")
	e, err := tab.Lookup(key)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 0, 0, 0, 0}, []int64{e.GetElem(stick.DataGPT, 0), e.GetElem(stick.DataGPC, 0),
		e.GetElem(stick.DataGPC, 1), e.GetElem(stick.DataGPCRate, 0), e.GetElem(stick.DataGPCRate, 1)})
	e.Release()

	// Go → haproxy: every element of every array.
	e, err = tab.GetOrCreate(ip("10.0.0.9"))
	require.NoError(t, err)
	now := tab.Now()
	for i := range 3 {
		e.IncElemAt(stick.DataGPC, i, int64(10+i), now)
		e.IncElemAt(stick.DataGPCRate, i, int64(20+i), now)
	}
	require.NoError(t, e.SetElem(stick.DataGPT, 0, 5))
	require.NoError(t, e.SetElem(stick.DataGPT, 1, 4000000000))
	e.Inc(stick.DataHTTPReqCnt, 3)
	e.TouchRelease()
	h.waitShow(t, "ta", "key=10.0.0.9 ", "http_req_cnt=3 gpt0=5 gpt1=4000000000 gpc0=10 gpc1=11 gpc2=12 gpc0_rate(10000)=20 gpc1_rate(10000)=21 gpc2_rate(10000)=22")
}
