package balancer

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// FuzzRunCommand runs any command line at any level on a balancer with a
// table of each key type: the runtime API answers (or stays silent on a
// successful set or clear) and never panics, and every table can still
// be dumped afterwards.
//
//	go test -run '^$' -fuzz FuzzRunCommand ./examples/lb/internal/balancer
func FuzzRunCommand(f *testing.F) {
	cfg, err := config.Parse(config.Source{Name: "fuzz.cfg", Data: []byte(`
backend t_ip
    stick-table type ip size 50 expire 1m store conn_cnt,gpc0,gpc0_rate(10s),http_req_rate(10s),server_id
backend t_ipv6
    stick-table type ipv6 size 50 expire 1m store gpt0,bytes_in_cnt
backend t_int
    stick-table type integer size 50 expire 1m store conn_cur,sess_rate(1s)
backend t_str
    stick-table type string len 8 size 50 expire 1m store gpc1,http_err_cnt
backend t_bin
    stick-table type binary len 4 size 50 expire 1m store bytes_out_rate(1m)
backend t_arr
    stick-table type ip size 50 expire 1m store gpc(3),gpc_rate(2,10s),gpt(2)
`)})
	require.NoError(f, err)
	b, err := Start(context.Background(), cfg, Options{Stdout: &safeBuffer{}, Stderr: &safeBuffer{}})
	require.NoError(f, err)
	f.Cleanup(func() { _ = b.Close() })
	tables := []string{"t_ip", "t_ipv6", "t_int", "t_str", "t_bin", "t_arr"}

	for _, s := range []string{
		"show table",
		"show table t_ip",
		"set table t_ip key 10.0.0.1 data.gpc0 5",
		"set table t_ipv6 key ::1 data.gpt0 -1; show table t_ipv6 key ::1",
		"set table t_int key 42 data.conn_cur 3",
		"set table t_str key abcdefghijkl data.gpc1 1",
		"set table t_bin key 0a0B0c data.bytes_out_rate 9",
		"show table t_ip data.gpc0 gt 1",
		"set table t_arr key 10.0.0.2 data.gpc 3 data.gpt 1 data.gpc_rate 2; show table t_arr data.gpc ge 3",
		"set table t_arr key 10.0.0.3 data.gpc 1 data.gpc(1) 2; clear table t_arr data.gpc_rate eq 0",
		"show table t_ip data.gpc0_rate eq 0 key 10.0.0.1",
		"clear table t_int key 42",
		"clear table t_str",
		"set table t_ip key 10.0.0.1 data.server_id 99999999999999999999",
		"show ssl-cache; show ssl-sync; help",
		"set table nope key x data.gpc0 1",
		"show table t_ip data.nope lt 3",
		"set table t_bin key zz data.bytes_out_rate 1",
		"prompt",
	} {
		f.Add("admin", s)
	}
	f.Add("user", "set table t_ip key 1.2.3.4 data.gpc0 1")
	f.Add("operator", "clear table t_ip")
	f.Fuzz(func(t *testing.T, level, line string) {
		out := b.RunCommand(level, line)
		if out != "" {
			require.True(t, strings.HasSuffix(out, "\n"), "answer to %q not ended by a newline: %q", line, out)
		}
		for _, tbl := range tables {
			dump := b.RunCommand("admin", "show table "+tbl)
			require.True(t, strings.HasPrefix(dump, "# table: "+tbl+","), "dump of %s after %q: %q", tbl, line, dump)
		}
	})
}
