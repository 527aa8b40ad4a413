package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// TestInteropConverterTypeChecksMatchHAProxy: every pairing of a fetch
// of each declared type (bool, sint, ipv4, ipv6, addr, str, bin, meth,
// any) with a converter taking each type, and some longer chains, is
// accepted or refused at start as haproxy -c does, with its words,
// in a set-var rule, a log-format sample and an ACL.
func TestInteropConverterTypeChecksMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	m := writeFile(t, "types.map", "a 1.2.3.4\n")
	ipm := writeFile(t, "ip.map", "1.2.3.0/24 x\n")
	fetches := []string{"always_true", "int(1)", "src", "ipv6(::1)", "str(a),map_str_ip(" + m + ")",
		"src,ipmask(24)", "str(a)", "req.body", "method", "var(txn.x)", "str(a),debug(t,stderr)"}
	convs := []string{"iif(a,b)", "add(1)", "map_ip(" + ipm + ")", "ipmask(24)", "lower", "hex", "debug(t,stderr)",
		"protobuf(1)", "fix_is_valid", "mqtt_field_value(connect,flags)", "even", "utime(%Y)", "json_query($.a)"}
	var exprs []string
	for _, f := range fetches {
		for _, c := range convs {
			exprs = append(exprs, f+","+c)
		}
	}
	exprs = append(exprs, "str(a),sha1,add(1)", "str(a),b64dec,lower", "str(a),base64,add(1)",
		"req.body,protobuf(1,int32),add(1)", "req.body,ungrpc(1,int32),lower", "str(a),fix_is_valid,iif(y,n)",
		"str(a),mqtt_is_valid,add(1)", "method,lower,add(1)", "str(a),aes_gcm_dec(128,YWJj,YWJj,YWJj),add(1)",
		"str(a),map_regm("+m+"),add(1)", "str(a),json_query($.a),ipmask(8)", "src,ipmask(24),map_ip("+ipm+")")
	re := regexp.MustCompile(`converter '[^']+' cannot be applied`)
	accepted, refused := 0, 0
	for fi, form := range []string{
		"    http-request set-var(txn.y) %s\n",
		"    http-request return status 200 content-type text/plain lf-string '%%[%s]'\n",
		"    acl a %s -m found\n    http-request deny if a\n",
	} {
		for i, e := range exprs {
			if fi > 0 && i%6 != 0 {
				continue // the other forms on a sample, to keep the test short
			}
			text := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:1\n" +
				strings.ReplaceAll(strings.Replace(form, "%s", e, 1), "%%", "%")
			out, herr := exec.Command(bin, "-c", "-f", writeFile(t, "types.cfg", text)).CombinedOutput()
			cfg, lerr := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if lerr == nil {
				lerr = balancer.Check(cfg)
			}
			if herr == nil {
				accepted++
				require.NoError(t, lerr, "haproxy accepts %q", text)
				continue
			}
			refused++
			want := re.FindString(string(out))
			require.NotEmpty(t, want, "haproxy refuses %q for its types: %s", text, out)
			require.Error(t, lerr, "haproxy refuses %q: %s", text, out)
			require.Contains(t, lerr.Error(), want, "lb's error for %q", text)
			require.Contains(t, lerr.Error(), "lb.cfg:", "lb's error names the file and line")
		}
	}
	require.NotZero(t, accepted)
	require.NotZero(t, refused)
}
