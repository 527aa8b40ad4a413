package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropStringConvertersMatchHAProxy: concat, add_item, ltrim,
// rtrim, cut_crlf, url_enc, ub64enc, ub64dec, host_only and port_only
// answer as in haproxy 2.6, edge inputs included (ub64dec's padding,
// port_only's lax digits).
func TestInteropStringConvertersMatchHAProxy(t *testing.T) {
	var ascii strings.Builder
	for c := byte(33); c < 127; c++ {
		ascii.WriteByte(c)
	}
	cases := []convCase{
		{"str(a),concat(x,,y)", ""}, {"str(a),concat(x)", ""}, {"str(a),concat", ""}, {"str(a),concat(,,y)", ""},
		{"str(),concat(x,,y)", ""}, {"int(5),concat(x,,y)", ""}, {"str(a),ub64dec,concat(<,,>)", ""},
		{"str(a),add_item(;,,sfx)", ""}, {"str(),add_item(;,,sfx)", ""}, {"str(a),add_item(,,b)", ""},
		{"str(xxabcxy),ltrim(xy)", ""}, {"str(xxabcxy),rtrim(xy)", ""}, {"str(xxabcxy),ltrim()", ""},
		{"str(xxx),ltrim(x),concat(<,,>)", ""}, {"str(xxx),rtrim(x),concat(<,,>)", ""}, {"req.fhdr(x-in),rtrim(é)", "aé"},
		{"req.fhdr(x-in),url_enc", ascii.String()}, {"req.fhdr(x-in),url_enc(query)", "a\tb é"}, {"str(abc),url_enc()", ""},
		{"str(ab?c>),ub64enc", ""}, {"str(ab?c>>),ub64enc", ""}, {"str(),ub64enc", ""}, {"req.fhdr(x-in),ub64enc", "é~ÿ"},
		{"str(YWI_Yz4),ub64dec", ""}, {"str(YWI_Yz4-),ub64dec,hex", ""}, {"str(YWI_Yz4=),ub64dec,hex", ""},
		{"str(YQ==),ub64dec,hex", ""}, {"str(YQ=),ub64dec,hex", ""}, {"str(YWJjZ),ub64dec,concat(<,,>)", ""},
		{"str(YWI/Yz4),ub64dec,concat(<,,>)", ""}, {"str(),ub64dec,concat(<,,>)", ""}, {"str(AA),ub64dec,hex", ""},
		{"req.fhdr(x-in),ub64dec,concat(<,,>)", "AAA."},
		{"req.fhdr(x-in),cut_crlf", "abc"},
	}
	for _, v := range []string{"Example.COM:8080", "[::1]:80", "[::1]", "::1", "a:b:c", "host:", ":80", "host:abc",
		"host:99999", "host:12x", "host", "h:-5", "[::1]x:5", "h:00080", "h: 80", "Ab"} {
		cases = append(cases, convCase{"req.fhdr(x-in),host_only", v}, convCase{"req.fhdr(x-in),port_only", v})
	}
	cases = append(cases, convCase{"str(),host_only,length", ""}, convCase{"str(:80),host_only,length", ""}, convCase{"str(),port_only", ""}, convCase{"req.fhdr(x-in),host_only", ascii.String()})
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[axy]", "[ax]", "[a]", "[ay]", "[xy]", "[5xy]", "[]", "[a;sfx]", "[sfx]", "[ab]",
		"[abcxy]", "[xxabc]", "[xxabcxy]", "[<>]", "[<>]", "[a]",
		"[%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~]",
		"[a%09b%20%C3%A9]", "[abc]", "[YWI_Yz4]", "[YWI_Yz4-]", "[]", "[w6l-w78]",
		"[ab?c>]", "[61623F633E3E]", "[61623F633E3F]", "[610FFF]", "[610F]", "[]", "[]", "[<>]", "[00]", "[]", "[abc]",
		"[example.com]", "[8080]", "[[::1]]", "[80]", "[[::1]]", "[0]", "[:]", "[1]", "[a:b]", "[51]",
		"[host]", "[0]", "[]", "[80]", "[host]", "[5451]", "[host]", "[99999]", "[host]", "[192]",
		"[host]", "[0]", "[h]", "[4294967271]", "[[::1]x]", "[5]", "[h]", "[80]", "[h]", "[4294965776]", "[ab]", "[0]",
		"[0]", "[0]", "[0]"} {
		require.Equal(t, cases[i].expr+" => "+v, got[i])
	}
	errs := convRefused(t, []string{"str(a),concat(x,foo,y)", "str(a),concat(x,y,z,w)", "str(a),add_item(;)", "str(a),add_item(;,,)",
		"str(a),ltrim(ab,c)", "str(a),cut_crlf(x)", "str(a),url_enc(path)", "str(a),strcmp(foo)", "str(a),secure_memcmp", "str(a),host_only(x)"})
	require.Contains(t, errs[0], "converter 'concat': 'foo' is not a variable name")
	require.Contains(t, errs[2], "converter 'add_item': expects <delim>,<var>[,<suffix>]")
	require.Contains(t, errs[3], "converter 'add_item': one of the optional arguments has to be nonempty")
	require.Contains(t, errs[6], "converter 'url_enc': unexpected encode type (only 'query')")
	require.Contains(t, errs[7], "converter 'strcmp': 'foo' is not a variable name")
}
