package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropRuntimeMapsMatchHAProxy runs one configuration under
// haproxy and lb, with maps and ACL pattern files that requests and the
// runtime API change, and compares every answer: the set-map, del-map,
// add-acl and del-acl actions; the CLI's show, get, add (one entry and a
// payload), set, del (by key and by entry id), clear, prepare and commit
// of maps and ACLs, with their errors; and what the requests then see
// through the map converters (str, beg as longest prefix, ip, str_int)
// and the ACLs reading the files. Entry ids and each file's number and
// description are haproxy's own, so the answers compare without them.
func TestInteropRuntimeMapsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text, sock string), port int) []string {
		files := t.TempDir()
		file := func(name, text string) string {
			p := filepath.Join(files, name)
			require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
			return p
		}
		routes := file("routes.map", "k1 v1\nk2 v2\nk1 v1b\n")
		prefix := file("prefix.map", "/a first\n/ab second\n# a comment\n\n  /abc/d third\n")
		ints := file("ints.map", "a 1\nb 22\n")
		nets := file("nets.map", "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n192.168.0.1 host\n")
		pats := file("paths.acl", "/foo\n/bar\n")
		block := file("block.acl", "")
		sock := filepath.Join(files, "admin.sock")
		start(fmt.Sprintf(`global
    stats socket %[1]s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%[2]d
    acl inacl path -f %[3]s
    acl blocked req.hdr(x-ip) -f %[4]s
    http-request set-map(%[5]s) %%[url_param(k)] %%[url_param(v)] if { path /set }
    http-request del-map(%[5]s) %%[url_param(k)] if { path /del }
    http-request add-acl(%[3]s) %%[url_param(k)] if { path /addacl }
    http-request del-acl(%[3]s) %%[url_param(k)] if { path /delacl }
    http-request add-acl(%[4]s) %%[req.hdr(x-ip)] if { path /block }
    http-request set-map(%[8]s) a %%[url_param(v)] if { path /setint }
    http-request deny deny_status 403 if blocked
    http-request set-var(txn.acl) str(yes) if inacl
    http-request return status 200 content-type text/plain lf-string "str=%%[url_param(k),map(%[5]s,none)] beg=%%[path,map_beg(%[6]s,none)] ip=%%[req.hdr(x-ip),map_ip(%[7]s,none)] int=%%[url_param(i),map_str_int(%[8]s,-1)] acl=%%[var(txn.acl)]\n"
`, sock, port, pats, block, routes, prefix, nets, ints), sock)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		var out []string
		get := func(target string, hdrs ...string) {
			req := "GET " + target + " HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
			for _, h := range hdrs {
				req += h + "\r\n"
			}
			resp := string(oneShot(t, addr, req+"\r\n"))
			status, _, _ := strings.Cut(resp, "\r\n")
			_, body, _ := strings.Cut(resp, "\r\n\r\n")
			if !strings.HasPrefix(status, "HTTP/1.1 200") {
				body = "" // the error page's text is each proxy's own
			}
			out = append(out, "GET "+target+" "+strings.Join(hdrs, " ")+" -> "+status+" | "+body)
		}
		// cliAs sends cmd and records it as shown (cmd without an entry
		// id, which differs between the two).
		cliAs := func(cmd, shown string) {
			a := cliCommand(t, sock, cmd)
			out = append(out, normalizeRefs("> "+shown+"\n"+a, files))
		}
		cli := func(cmd string) { cliAs(cmd, cmd) }
		r, p := routes, pats
		get("/?k=k1&i=b")
		get("/abc/d/e")
		get("/ab/x")
		get("/a", "x-ip: 10.1.2.3")
		get("/foo", "x-ip: 10.200.0.1")
		get("/", "x-ip: 192.168.0.1")
		// The actions.
		get("/set?k=k1&v=N")
		get("/set?k=k9&v=N9")
		get("/?k=k9")
		get("/del?k=k2")
		get("/?k=k2")
		get("/set?k=&v=E")
		cli("show map " + r)
		get("/addacl?k=/x")
		get("/addacl?k=/x")
		get("/addacl?k=/foo")
		get("/x")
		get("/delacl?k=/foo")
		get("/foo")
		cli("show acl " + p)
		get("/block", "x-ip: 10.9.9.9")
		get("/", "x-ip: 10.9.9.9")
		get("/", "x-ip: 10.9.9.8")
		get("/setint?v=notanumber")
		get("/setint?v=5&i=a")
		// The runtime API.
		cli("show map")
		cli("show acl")
		cli("get map " + r + " k1")
		cli("get map " + r + " nope")
		cli("get map " + prefix + " /abc/d/x")
		cli("get map " + prefix + " /zz")
		cli("get map " + nets + " 10.1.9.9")
		cli("get map " + ints + " a")
		cli("get acl " + p + " /x")
		cli("get acl " + p + " /nope")
		cli("get map")
		cli("get map " + r)
		cli("add map " + r + " k3 v3")
		cli("add map " + r + " k3 v3b")
		cli("add map " + r)
		cli("add map /nope a b")
		cli("add acl " + p + " /y")
		cli("add acl " + r + " /y")
		cli("add acl")
		get("/?k=k3")
		get("/y")
		cli("set map " + r + " k3 V3")
		cli("set map " + r + " nokey V")
		cli("set map " + r)
		get("/?k=k3")
		cli("del map " + r + " k3")
		cli("del map " + r + " nokey")
		cli("del map " + r)
		cli("del acl " + p + " /y")
		get("/y")
		// An entry by its id, as "show map" gives it.
		shown := cliCommand(t, sock, "show map "+r)
		id, _, _ := strings.Cut(shown, " ")
		cliAs("set map "+r+" #"+id+" byid", "set map "+r+" #ID byid")
		cli("show map " + r)
		cliAs("del map "+r+" #"+id, "del map "+r+" #ID")
		cli("del map " + r + " #0xzz")
		cli("del map " + r + " #0x1")
		cli("show map " + r)
		// Payloads.
		cli("add map " + r + " <<\nq1 r1\nq2   r2 with spaces\n")
		cli("add acl " + p + " <<\n/p1\n/p2\n")
		get("/?k=q2")
		get("/p2")
		cli("add map " + r + " <<\nlonely\n")
		// Versions.
		cli("prepare map " + r)
		cli("prepare map " + r)
		cli("add map @1 " + r + " n1 w1")
		cli("add map @2 " + r + " n2 w2")
		cli("add map @9 " + r + " n9 w9")
		cli("show map @1 " + r)
		cli("show map @2 " + r)
		get("/?k=n1")
		cli("commit map " + r)
		cli("commit map @3 " + r)
		cli("commit map @1 " + r)
		cli("show map " + r)
		cli("show map")
		get("/?k=n1")
		get("/?k=q1")
		cli("commit map @1 " + r)
		cli("clear map @2 " + r)
		cli("commit map @2 " + r)
		get("/?k=n1")
		cli("show map " + r)
		cli("prepare acl " + p)
		cli("add acl @1 " + p + " /v1")
		get("/v1")
		cli("commit acl @1 " + p)
		get("/v1")
		get("/x")
		cli("clear acl " + p)
		get("/v1")
		cli("clear map " + prefix)
		get("/ab/x")
		cli("clear map")
		cli("clear acl /nope")
		cli("show acl")
		// Last, as haproxy 2.6 counts an entry it refused in the next
		// listing's entry_cnt.
		cli("add map " + ints + " c notint")
		cli("set map " + ints + " a 7")
		get("/?i=a")
		return out
	}
	ports := freePorts(t, 2)
	want := run(func(text, sock string) { startHAProxySocket(t, text, sock) }, ports[0])
	got := run(func(text, _ string) { startInProcess(t, text) }, ports[1])
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
}

var (
	refEntryID = regexp.MustCompile(`(?m)^0x[0-9a-f]+ `)
	refListing = regexp.MustCompile(`(?m)^-?\d+ \(([^)]*)\) .*( curr_ver=\d+ next_ver=\d+ entry_cnt=\d+)$`)
	refAnon    = regexp.MustCompile(`(?m)^\(\) .*\n`)
)

// normalizeRefs takes out of a map or ACL command and its answer what
// only haproxy's internals decide: entry ids (addresses), the files'
// numbers and descriptions, the pattern lists of ACLs without a file
// (which lb does not list); and the temporary directory of the files.
func normalizeRefs(a, dir string) string {
	a = refEntryID.ReplaceAllString(a, "ID ")
	a = refListing.ReplaceAllString(a, "($1)$2")
	a = refAnon.ReplaceAllString(a, "")
	return strings.ReplaceAll(a, dir, "DIR")
}
