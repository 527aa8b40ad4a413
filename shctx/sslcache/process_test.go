package sslcache_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

// The test binary doubles as the second process: started with
// childEnv set, it serves TLS on the cache file named in the environment
// until its standard input closes.
const childEnv = "SSLCACHE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if certDir != "" {
		_ = os.RemoveAll(certDir)
	}
	os.Exit(code)
}

func runChild() error {
	c, err := sslcache.New(os.Getenv("SSLCACHE_PATH"), 200, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	cert, err := tls.LoadX509KeyPair(os.Getenv("SSLCACHE_CERT"), os.Getenv("SSLCACHE_KEY"))
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	c.Configure(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := serve(ln, cfg)
	defer s.Close()
	fmt.Printf("ADDR %s\n", s.addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	st := c.Stats()
	fmt.Printf("STATS local=%d shared=%d\n", st.LocalHits, st.SharedHits)
	return nil
}

// child is the second process serving on the same cache file.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	addr  string
}

func startChild(t *testing.T, path string, tc *testCert) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "SSLCACHE_PATH="+path,
		"SSLCACHE_CERT="+tc.certFile, "SSLCACHE_KEY="+tc.keyFile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ch := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := ch.out.ReadString('\n')
	require.NoError(t, err, "child did not report its address")
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	require.True(t, ok, "child said %q", line)
	ch.addr = addr
	return ch
}

// stop ends the child and returns how many lookups it served from its
// own level and from the shared one.
func (ch *child) stop(t *testing.T) (local, shared int) {
	t.Helper()
	require.NoError(t, ch.stdin.Close())
	line, err := ch.out.ReadString('\n')
	require.NoError(t, err)
	_, err = fmt.Sscanf(strings.TrimSpace(line), "STATS local=%d shared=%d", &local, &shared)
	require.NoError(t, err, "child said %q", line)
	require.NoError(t, ch.cmd.Wait())
	return local, shared
}

// TestTwoProcesses runs a TLS server in this process and another in a
// child process on one /dev/shm cache file: a session made on one
// resumes on the other.
func TestTwoProcesses(t *testing.T) {
	tc := newTestCert(t)
	path := shmPath(t)
	c := open(t, sslcache.Options{Path: path, Size: 200})
	cfg := &tls.Config{Certificates: []tls.Certificate{tc.cert}}
	c.Configure(cfg)
	srv := startServer(t, cfg)
	ch := startChild(t, path, tc)

	for _, v := range versions {
		// crypto/tls clients bind a ticket to the server name, so both
		// servers are dialed with the same SNI.
		ccfg := clientConfig(tc, v.v, tls.NewLRUClientSessionCache(4))
		require.False(t, dial(t, srv.addr, ccfg), v.name)
		require.True(t, dial(t, ch.addr, ccfg), "%s: made here, resumed in the child", v.name)

		ccfg = clientConfig(tc, v.v, tls.NewLRUClientSessionCache(4))
		require.False(t, dial(t, ch.addr, ccfg), v.name)
		require.True(t, dial(t, srv.addr, ccfg), "%s: made in the child, resumed here", v.name)
	}
	local, shared := ch.stop(t)
	require.Equal(t, 2, shared, "the child found both sessions in the shared level")
	require.Zero(t, local)
	require.Equal(t, uint64(2), c.Stats().SharedHits)
}

// TestTwoProcessesOpenSSL is the same check with openssl s_client saving
// the session from one process and offering it to the other.
func TestTwoProcessesOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not found and CI=true: the interop test must run")
		}
		t.Skip("openssl not found: skipping the s_client interop test")
	}
	tc := newTestCert(t)
	path := shmPath(t)
	c := open(t, sslcache.Options{Path: path, Size: 200})
	cfg := &tls.Config{Certificates: []tls.Certificate{tc.cert}}
	c.Configure(cfg)
	srv := startServer(t, cfg)
	ch := startChild(t, path, tc)
	dir := t.TempDir()
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		sess := filepath.Join(dir, "sess"+v)
		out := sClient(t, bin, srv.addr, v, "-sess_out", sess)
		require.Contains(t, out, "New, TLSv1.", "%s first handshake:\n%s", v, out)
		out = sClient(t, bin, ch.addr, v, "-sess_in", sess)
		require.Contains(t, out, "Reused, TLSv1.", "%s: session from this process reused by the child:\n%s", v, out)
	}
	_, shared := ch.stop(t)
	require.Equal(t, 2, shared)
}

func sClient(t *testing.T, bin, addr string, args ...string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	_, err = strconv.Atoi(port)
	require.NoError(t, err)
	all := append([]string{"s_client", "-connect", net.JoinHostPort(host, port), "-servername", serverName}, args...)
	cmd := exec.Command(bin, all...)
	// The server's greeting arrives after the TLS 1.3 tickets, so by
	// the time s_client prints it the tickets are saved; closing stdin
	// then ends the session.
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	var b strings.Builder
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
		if sc.Text() == "hello" {
			_ = stdin.Close()
		}
	}
	_ = stdin.Close()
	_ = cmd.Wait()
	return b.String()
}
