package h2

import (
	stdtls "crypto/tls"
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// findTool returns the path of an external binary, skipping the test
// when it is absent (failing instead when CI=true).
func findTool(t *testing.T, name string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range extra {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH (CI=true requires it)", name)
	}
	t.Skipf("%s not found on PATH: install it to run this interop test", name)
	return ""
}

type junitReport struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Package   string    `xml:"package,attr"`
			Classname string    `xml:"classname,attr"`
			Failure   *struct{} `xml:"failure"`
			Error     *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// TestH2Spec runs the h2spec conformance suite against a server built
// from the front-side mux, in clear text and over TLS, and requires no
// failed case.
func TestH2Spec(t *testing.T) {
	home, _ := os.UserHomeDir()
	bin := findTool(t, "h2spec", filepath.Join(home, "go", "bin", "h2spec"))
	dir := t.TempDir()
	cert := testcert.SelfSigned(t, "127.0.0.1", "localhost").Certificate
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"cleartext", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			var tlsCfg *stdtls.Config
			if tc.tls {
				tlsCfg = &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: []string{"h2"}}
			}
			srv := startServer(t, Config{}, tlsCfg, hello)
			_, port, err := net.SplitHostPort(srv.addr())
			require.NoError(t, err)
			report := filepath.Join(dir, tc.name+".xml")
			// -o is how long h2spec waits for each frame it expects and
			// for each connection's TLS and HTTP/2 handshakes. Its default,
			// 2 s, is too short on a loaded CI machine: with this server
			// built with -race and both cores busy, setting a connection
			// up has taken longer. A server that conforms answers every
			// case at once, so a passing run takes no longer for it.
			args := []string{"-h", "127.0.0.1", "-p", port, "-j", report, "-o", "10"}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			out, _ := exec.Command(bin, args...).CombinedOutput()
			sm := h2specSummary.FindSubmatch(out)
			require.NotNil(t, sm, "h2spec printed no summary:\n%s", out)
			failed, _ := strconv.Atoi(string(sm[4]))
			t.Logf("h2spec %s: %s", tc.name, sm[0])
			if failed == 0 {
				return
			}
			var names []string
			if data, err := os.ReadFile(report); err == nil {
				var r junitReport
				if xml.Unmarshal(data, &r) == nil {
					for _, s := range r.Suites {
						for _, c := range s.Cases {
							if c.Failure != nil || c.Error != nil {
								names = append(names, c.Package+" "+c.Classname)
							}
						}
					}
				}
			}
			t.Fatalf("h2spec %s: %s; failed cases:\n%s\n\noutput:\n%s", tc.name, sm[0], strings.Join(names, "\n"), out)
		})
	}
}
