package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// TestInteropDefaultPathMatchesHAProxy: with each default-path mode, an
// errorfile named by a relative path is found in exactly the directory
// haproxy finds it in, the mode applying to a second file too, each
// taking its own directory.
func TestInteropDefaultPathMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "o"), 0o755))
	cfgFile := filepath.Join(sub, "c.cfg")
	second := filepath.Join(sub, "c2.cfg")
	const body = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
	require.NoError(t, os.WriteFile(second, []byte(body+"backend b2\n    errorfile 503 e.http\n"), 0o644))
	places := []string{filepath.Join(root, "a", "b"), filepath.Join(root, "a"), filepath.Join(root, "o"), root}
	for _, mode := range []string{"current", "config", "parent", "origin " + filepath.Join(root, "o"), "origin", "bogus"} {
		for _, place := range places {
			for _, files := range [][]string{{cfgFile}, {cfgFile, second}} {
				text := "global\n    default-path " + mode + "\n" + body + "backend be\n    errorfile 503 e.http\n"
				require.NoError(t, os.WriteFile(cfgFile, []byte(text), 0o644))
				ef := filepath.Join(place, "e.http")
				require.NoError(t, os.WriteFile(ef, []byte("HTTP/1.0 503 x\r\n\r\n"), 0o644))
				args := []string{"-c"}
				var srcs []config.Source
				for _, f := range files {
					args = append(args, "-f", f)
					data, err := os.ReadFile(f)
					require.NoError(t, err)
					srcs = append(srcs, config.Source{Name: f, Data: data})
				}
				out, herr := exec.Command(bin, args...).CombinedOutput()
				_, err := config.Parse(srcs...)
				// No listener makes haproxy -c exit 2 with "no error".
				ok := herr == nil || strings.Contains(string(out), "has no error")
				require.Equal(t, ok, err == nil, "mode %q, file in %s, %d files: haproxy says %s; lb %v", mode, place, len(files), out, err)
				require.NoError(t, os.Remove(ef))
			}
		}
	}
}

// TestInteropDefaultPathFilesMatchHAProxy: under "default-path config",
// each kind of file a configuration names by a relative path is looked
// for where haproxy looks for it: in the configuration's directory for
// what is read as the file is (TLS files of bind and server lines, ACL
// pattern and map files of rules, the file of a return rule, Lua, SPOE
// configuration files), in
// the working directory for what is read once it is (maps in use_backend
// names and log-formats). Each file is put in one of the two places in
// turn, and haproxy -c and lb -c, run from the same working directory,
// must give the same verdict.
func TestInteropDefaultPathFilesMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	lb := lbBinary(t)
	pki := newPKI(t, "dp")
	cert := pki.issue("leaf.pem", "dp.example", []string{"dp.example"}, false, false)
	read := func(p string) string {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return string(b)
	}
	files := map[string]string{
		"cert.pem":    read(cert),
		"ca.pem":      read(pki.caFile),
		"list.txt":    cert + "\n",
		"ticket.keys": "ZWR3b3JkZWR3b3JkZWR3b3JkZWR3b3JkZWR3b3JkZWR3b3JkZWR3b3JkZWR3b3Jk\nYWJjZGFiY2RhYmNkYWJjZGFiY2RhYmNkYWJjZGFiY2RhYmNkYWJjZGFiY2RhYmNk\nMTIzNDEyMzQxMjM0MTIzNDEyMzQxMjM0MTIzNDEyMzQxMjM0MTIzNDEyMzQxMjM0\n",
		"a.lst":       "127.0.0.1\n",
		"m.map":       "/a b\n",
		"ip.map":      "127.0.0.1 x\n",
		"ret.txt":     "hello\n",
		"x.lua":       "core.register_fetches('dp', function(txn) return 'x' end)\n",
		"spoe.conf":   "[e]\nspoe-agent a\n    messages m\n    use-backend agents\n    timeout hello 1s\n    timeout idle 10s\n    timeout processing 1s\nspoe-message m\n    args ip=src\n    event on-frontend-tcp-request\n",
	}
	const head = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:18001\n"
	const tail = "    default_backend be\nbackend be\n    server s 127.0.0.1:2\n"
	cases := []struct{ name, global, front, file string }{
		{"bind crt", "", "    bind 127.0.0.1:18002 ssl crt cert.pem\n", "cert.pem"},
		{"bind ca-file", "", "    bind 127.0.0.1:18002 ssl crt " + cert + " ca-file ca.pem verify optional\n", "ca.pem"},
		{"crt-list", "", "    bind 127.0.0.1:18002 ssl crt-list list.txt\n", "list.txt"},
		{"tls-ticket-keys", "", "    bind 127.0.0.1:18002 ssl crt " + cert + " tls-ticket-keys ticket.keys\n", "ticket.keys"},
		{"server crt", "", "    http-request set-header x y\nbackend tls\n    server t 127.0.0.1:3 ssl verify none crt cert.pem\nfrontend fe2\n    bind 127.0.0.1:18003\n", "cert.pem"},
		{"server ca-file", "", "    http-request set-header x y\nbackend tls\n    server t 127.0.0.1:3 ssl ca-file ca.pem\nfrontend fe2\n    bind 127.0.0.1:18003\n", "ca.pem"},
		{"acl file", "", "    acl a src -f a.lst\n    http-request deny if a\n", "a.lst"},
		{"map in http-request", "", "    http-request set-var(txn.x) path,map(m.map)\n", "m.map"},
		{"map in tcp-request connection", "", "    tcp-request connection set-var(sess.y) src,map_ip(ip.map)\n", "ip.map"},
		{"return file", "", "    http-request return status 200 content-type text/plain file ret.txt\n", "ret.txt"},
		{"lua-load", "    lua-load x.lua\n", "", "x.lua"},
		{"spoe config", "", "    filter spoe engine e config spoe.conf\nbackend agents\n    mode tcp\n    server a 127.0.0.1:4\nfrontend fe2\n    bind 127.0.0.1:18003\n", "spoe.conf"},
		{"map in use_backend", "", "    use_backend %[path,map(m.map)]\n", "m.map"},
		{"map in log-format", "", "    log-format \"%[src,map_ip(ip.map)]\"\n", "ip.map"},
	}
	for _, c := range cases {
		found := map[string]bool{}
		for _, where := range []string{"config", "cwd"} {
			t.Run(c.name+" in "+where, func(t *testing.T) {
				confDir, cwd := t.TempDir(), t.TempDir()
				dir := confDir
				if where == "cwd" {
					dir = cwd
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, c.file), []byte(files[c.file]), 0o600))
				if c.file == "list.txt" {
					require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), []byte(files["cert.pem"]), 0o600))
				}
				text := "global\n    default-path config\n" + c.global + head + c.front + tail
				cfg := filepath.Join(confDir, "c.cfg")
				require.NoError(t, os.WriteFile(cfg, []byte(text), 0o600))
				run := func(name string) (bool, string) {
					cmd := exec.Command(name, "-c", "-f", cfg)
					cmd.Dir = cwd
					out, err := cmd.CombinedOutput()
					return err == nil, string(out)
				}
				hok, hout := run(bin)
				lok, lout := run(lb)
				require.Equal(t, hok, lok, "haproxy -c:\n%s\nlb -c:\n%s", hout, lout)
				found[where] = hok
			})
		}
		// The file is in one place only: haproxy finds it in one.
		require.NotEqual(t, found["config"], found["cwd"], "%s: haproxy's verdicts", c.name)
	}
}
