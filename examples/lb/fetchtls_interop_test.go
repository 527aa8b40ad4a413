package main

import (
	"bufio"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opensslPKI makes, with the openssl tool, a CA and certificates whose
// subjects carry several attributes (repeated OUs, a comma), as the DN
// fetches must print them: it returns the directory holding ca.pem,
// server.pem (certificate and key, for crt), backend.pem and
// client.crt/client.key.
func opensslPKI(t *testing.T) string {
	t.Helper()
	bin := toolBin(t, "openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "openssl %s: %s", strings.Join(args, " "), out)
	}
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
		"-days", "30", "-subj", "/C=FR/O=Fetch Test CA/CN=Fetch Root")
	write("ext.cnf", "[srv]\nsubjectAltName=DNS:localhost\n[cli]\nextendedKeyUsage=clientAuth\n")
	leaf := func(name, subj, keyType string, ext string, serial string) {
		args := []string{"req", "-newkey", keyType, "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj}
		if keyType == "ec" {
			args = append(args, "-pkeyopt", "ec_paramgen_curve:P-256")
		}
		run(args...)
		run("x509", "-req", "-in", name+".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial, "-days", "20",
			"-extfile", "ext.cnf", "-extensions", ext, "-out", name+".crt")
		crt, err := os.ReadFile(filepath.Join(dir, name+".crt"))
		require.NoError(t, err)
		key, err := os.ReadFile(filepath.Join(dir, name+".key"))
		require.NoError(t, err)
		write(name+".pem", string(crt)+string(key))
	}
	leaf("server", "/CN=localhost", "rsa:2048", "srv", "0x1001")
	leaf("backend", "/C=DE/L=Berlin/O=Backend GmbH/CN=localhost", "ec", "srv", "0xA1B2C3D4E5F6")
	leaf("client", "/C=FR/ST=Ile-de-France/O=Example\\, Inc./OU=Eng/OU=Ops/CN=alice/emailAddress=alice@example.com", "rsa:2048", "cli", "0x00FF")
	crt, err := os.ReadFile(filepath.Join(dir, "client.crt"))
	require.NoError(t, err)
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	write("client-chain.crt", string(crt)+string(ca))
	return dir
}

// tlsFetchLine is what the frontend answers: the client certificate
// fetches and the front connection's key sizes.
const tlsFetchLine = `s=%[ssl_c_s_dn] cn=%[ssl_c_s_dn(CN)] ou2=%[ssl_c_s_dn(OU,2)] oulast=%[ssl_c_s_dn(ou,-1)] ou3=%[ssl_c_s_dn(OU,3)] ` +
	`rfc=%[ssl_c_s_dn(,0,rfc2253)] i=%[ssl_c_i_dn] icn=%[ssl_c_i_dn(CN)] irfc=%[ssl_c_i_dn(,0,rfc2253)] ` +
	`serial=%[ssl_c_serial,hex] sha1=%[ssl_c_sha1,hex] der=%[ssl_c_der,base64] nb=%[ssl_c_notbefore] na=%[ssl_c_notafter] ` +
	`sig=%[ssl_c_sig_alg] key=%[ssl_c_key_alg] ver=%[ssl_c_version] crt=%[ssl_fc_has_crt] sni=%[ssl_fc_has_sni] ` +
	`alg=%[ssl_fc_alg_keysize] use=%[ssl_fc_use_keysize] err=%[ssl_c_err] caerr=%[ssl_c_ca_err] depth=%[ssl_c_ca_err_depth] chain=%[ssl_c_chain_der,base64] ` +
	`f=%[ssl_f_s_dn] fi=%[ssl_f_i_dn(CN)] fserial=%[ssl_f_serial,hex] fsig=%[ssl_f_sig_alg] fkey=%[ssl_f_key_alg] fver=%[ssl_f_version] ` +
	`fna=%[ssl_f_notafter] fsha=%[ssl_f_sha1,hex] fder=%[ssl_f_der,base64] res=%[ssl_fc_is_resumed]`

// tlsBackLine is what the balancer adds to the response: the server
// connection's TLS state and certificate.
const tlsBackLine = `bc=%[ssl_bc] proto=%[ssl_bc_protocol] cipher=%[ssl_bc_cipher] alpn=%[ssl_bc_alpn] res=%[ssl_bc_is_resumed] ` +
	`alg=%[ssl_bc_alg_keysize] use=%[ssl_bc_use_keysize] s=%[ssl_s_s_dn] icn=%[ssl_s_i_dn(CN)] l=%[ssl_s_s_dn(L)] ` +
	`serial=%[ssl_s_serial,hex] sig=%[ssl_s_sig_alg] key=%[ssl_s_key_alg] ver=%[ssl_s_version] der=%[ssl_s_der,base64] chain=%[ssl_s_chain_der,base64]`

// TestInteropTLSFetchesMatchHAProxy: a client with a certificate reaches
// a TLS frontend answering with the ssl_c_* fetches (and their DN
// arguments), and, through a second frontend, a TLS server whose
// certificate and connection the ssl_s_* and ssl_bc_* fetches of a
// response header show. haproxy's values and lb's must be equal.
func TestInteropTLSFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := opensslPKI(t)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	clientCert, err := stdtls.LoadX509KeyPair(filepath.Join(dir, "client-chain.crt"), filepath.Join(dir, "client.key"))
	require.NoError(t, err)
	backCert, err := stdtls.LoadX509KeyPair(filepath.Join(dir, "backend.crt"), filepath.Join(dir, "backend.key"))
	require.NoError(t, err)

	// The TLS server behind the balancer: TLS 1.2 with one suite, so
	// both balancers' clients negotiate the same.
	ln, err := stdtls.Listen("tcp", "127.0.0.1:0", &stdtls.Config{
		Certificates: []stdtls.Certificate{backCert}, MaxVersion: stdtls.VersionTLS12,
		CipherSuites: []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	run := func(start func(text string)) []string {
		ports := freePorts(t, 2)
		start(fmt.Sprintf(`%sfrontend front
    bind 127.0.0.1:%d ssl crt %s ca-file %s verify optional
    http-request return status 200 content-type text/plain lf-string "%s\n"
frontend back
    bind 127.0.0.1:%d
    http-response set-header X-TLS "%s"
    default_backend b
backend b
    server s %s ssl verify none
`, httpDefaults, ports[0], filepath.Join(dir, "server.pem"), filepath.Join(dir, "ca.pem"), tlsFetchLine, ports[1], tlsBackLine, ln.Addr()))
		var out []string
		// The second "cert" connection resumes the first's session.
		cache := stdtls.NewLRUClientSessionCache(4)
		for _, tc := range []struct {
			name string
			cfg  *stdtls.Config
		}{
			{"cert", &stdtls.Config{Certificates: []stdtls.Certificate{clientCert}, ServerName: "localhost", ClientSessionCache: cache}},
			{"cert-resumed", &stdtls.Config{Certificates: []stdtls.Certificate{clientCert}, ServerName: "localhost", ClientSessionCache: cache}},
			{"nocert-nosni", &stdtls.Config{ServerName: ""}},
		} {
			tc.cfg.RootCAs, tc.cfg.InsecureSkipVerify = pool, tc.cfg.ServerName == ""
			tc.cfg.MaxVersion = stdtls.VersionTLS12
			tc.cfg.CipherSuites = []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			c, err := stdtls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]), tc.cfg)
			require.NoError(t, err, tc.name)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = c.Close()
			out = append(out, tc.name+": "+string(body))
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[1]))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return append(out, "back: "+resp.Header.Get("X-TLS"))
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	t.Logf("haproxy: %q", want)
	assert.Equal(t, want, got)
	require.Len(t, got, 4)
	assert.Contains(t, got[0], "s=/C=FR/ST=Ile-de-France/O=Example, Inc./OU=Eng/OU=Ops/CN=alice/emailAddress=alice@example.com cn=alice ou2=Ops oulast=Ops ou3= ")
	assert.Contains(t, got[0], "rfc=emailAddress=alice@example.com,CN=alice,OU=Ops,OU=Eng,O=Example\\, Inc.,ST=Ile-de-France,C=FR ")
	assert.Contains(t, got[0], " err=0 caerr=0 depth=0 chain="+base64.StdEncoding.EncodeToString(pool2DER(t, caPEM))+" f=")
	assert.Contains(t, got[0], " f=/CN=localhost fi=Fetch Root fserial=1001 fsig=ecdsa-with-SHA256 fkey=rsaEncryption fver=3 ")
	assert.Contains(t, got[1], " crt=0 ")
	assert.Contains(t, got[1], " res=1")
	assert.Contains(t, got[3], "serial=A1B2C3D4E5F6 sig=ecdsa-with-SHA256 key=id-ecPublicKey ver=3")
}

// pool2DER is the DER of the one certificate in pemText.
func pool2DER(t *testing.T, pemText []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemText)
	require.NotNil(t, b)
	return b.Bytes
}
