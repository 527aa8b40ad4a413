package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConverterTableRefs: the stick-table converters' tables must exist,
// checked once every section is read, with haproxy 2.6's words.
func TestConverterTableRefs(t *testing.T) {
	const base = `defaults
    mode http
frontend f
    bind 127.0.0.1:8080
`
	const tables = `backend st
    stick-table type ip size 10 store conn_cnt
peers pp
    peer lb 127.0.0.1:29999
    table pt type ip size 10 store http_req_cnt
`
	for _, line := range []string{
		"http-request set-header x %[src,table_conn_cnt(st)]",
		"http-request set-var(txn.a) src,table_gpc_rate(1,st)",
		"http-request deny if { src,in_table(st) }",
		"http-request set-header x %[src,table_conn_cnt(pp/pt)]",
		"acl seen src,table_expire(st,0) gt 0",
		`http-request set-header x "a,in_table(nope)"`, // text, not an expression
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte("global\n    localpeer lb\n" + base + "    " + line + "\n" + tables)})
		require.NoError(t, err, line)
	}
	for line, want := range map[string]string{
		"http-request set-header x %[src,table_conn_cnt(nope)]":   "t.cfg:5: bad reference: unable to find table 'nope' referenced in arg 1 of conversion keyword 'table_conn_cnt' for sample fetch keyword 'src' in http-request expression in proxy 'f'",
		"acl a src,table_gpc(1,nope) gt 1":                        "unable to find table 'nope' referenced in arg 2 of conversion keyword 'table_gpc' for ACL keyword 'src' in proxy 'f'",
		"http-request deny if { src,in_table }":                   "unable to find table 'f' referenced in arg 1 of conversion keyword 'in_table' for ACL keyword 'src'",
		"http-request set-header x %[src,table_conn_cnt(pt)]":     "unable to find table 'pt'",
		"http-request track-sc0 src,table_idle(nope) table st":    "unable to find table 'nope' referenced in arg 1 of conversion keyword 'table_idle'",
		"http-request set-header x %[hdr(a),table_gpc_rate(1,x)]": "conversion keyword 'table_gpc_rate' for sample fetch keyword 'hdr'",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(base + "    " + line + "\n" + tables)})
		require.Error(t, err, line)
		require.Contains(t, err.Error(), want, line)
	}
}
