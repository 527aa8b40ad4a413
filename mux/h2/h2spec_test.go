package h2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// testCert writes a self-signed certificate for 127.0.0.1 into dir and
// loads it back.
func testCert(t testing.TB, dir string) stdtls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := stdtls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	return cert
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
	cert := testCert(t, dir)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"cleartext", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			var tlsCfg *stdtls.Config
			if tc.tls {
				tlsCfg = &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: []string{"h2"}}
			}
			srv := startServer(t, Config{}, tlsCfg, hello)
			_, port, err := net.SplitHostPort(srv.addr())
			require.NoError(t, err)
			report := filepath.Join(dir, tc.name+".xml")
			args := []string{"-h", "127.0.0.1", "-p", port, "-j", report, "-o", "2"}
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
