package stick

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var ptrRE = regexp.MustCompile(`(?m)^0x[0-9a-f]+:`)

func dump(t *testing.T, tb *Table, args ...string) string {
	t.Helper()
	f, err := tb.ParseFilter(args)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, tb.Dump(&b, &f))
	return ptrRE.ReplaceAllString(b.String(), "0xP:")
}

func TestDumpFormat(t *testing.T) {
	tb, _ := newTable(t, Config{Name: "f", Type: KeyIPv4, Size: 1 << 20, Expire: 30 * time.Second, Store: []DataSpec{
		{DataBytesOutRate, time.Minute, 0}, {DataHTTPReqRate, 10 * time.Second, 0}, {DataConnCur, 0, 0},
		{DataConnRate, 10 * time.Second, 0}, {DataGPC0, 0, 0}, {DataServerID, 0, 0}, {DataGPT0, 0, 0}, {DataBytesInCnt, 0, 0},
	}})
	require.Equal(t, "# table: f, type: ip, size:1048576, used:0\n", dump(t, tb))

	k, err := tb.ParseKey("9.9.9.9")
	require.NoError(t, err)
	vals, err := tb.ParseSetData([]string{"data.server_id", "-3", "data.gpt0", "-1", "data.bytes_in_cnt", "99999999999"})
	require.NoError(t, err)
	require.NoError(t, tb.SetData(k, vals))
	k, _ = tb.ParseKey("1.2.3.4")
	require.NoError(t, tb.SetData(k, []DataValue{{DataGPC0, 5}, {DataConnCur, 2}, {DataConnRate, 5}}))
	held, err := tb.Lookup(k)
	require.NoError(t, err)
	defer held.Release()

	line1 := "0xP: key=1.2.3.4 use=1 exp=30000 server_id=0 gpt0=0 gpc0=5 conn_rate(10000)=5 conn_cur=2 http_req_rate(10000)=0 bytes_in_cnt=0 bytes_out_rate(60000)=0\n"
	line9 := "0xP: key=9.9.9.9 use=0 exp=30000 server_id=-3 gpt0=4294967295 gpc0=0 conn_rate(10000)=0 conn_cur=0 http_req_rate(10000)=0 bytes_in_cnt=99999999999 bytes_out_rate(60000)=0\n"
	head := "# table: f, type: ip, size:1048576, used:2\n"
	require.Equal(t, head+line1+line9, dump(t, tb))
	require.Equal(t, head+line1, dump(t, tb, "data.gpc0", "gt", "3"))
	require.Equal(t, head+line1, dump(t, tb, "data.gpc0", "gt", "3", "data.conn_cur", "eq", "2"))
	require.Equal(t, head, dump(t, tb, "data.gpc0", "gt", "3", "data.conn_cur", "eq", "1"))
	require.Equal(t, head+line9, dump(t, tb, "data.server_id", "lt", "0"))
	require.Equal(t, head+line1, dump(t, tb, "data.conn_rate", "ge", "5"))
	require.Equal(t, head+line1, dump(t, tb, "key", "1.2.3.4", "data.gpc0", "lt", "0"), "a key ignores data filters")
	require.Equal(t, head, dump(t, tb, "key", "5.5.5.5"))

	// Clear skips entries in use, as HAProxy does.
	f, err := tb.ParseFilter(nil)
	require.NoError(t, err)
	n, err := tb.Clear(&f)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "# table: f, type: ip, size:1048576, used:1\n"+line1, dump(t, tb))
}

func TestDumpKeyFormats(t *testing.T) {
	tests := []struct {
		cfg  Config
		keys []string
		want string
	}{
		{Config{Name: "s", Type: KeyString, KeyLen: 8}, []string{"abc", "a b=c\\d", "01234567890", "x\ty\x01"},
			"# table: s, type: string, size:100, used:4\n0xP: key=01234567 use=0 exp=0\n0xP: key=a\\ b\\=c\\\\d use=0 exp=0\n0xP: key=abc use=0 exp=0\n0xP: key=x\\ty\\x01 use=0 exp=0\n"},
		{Config{Name: "i", Type: KeyInteger}, []string{"42", "1", "256", "4294967295"},
			"# table: i, type: integer, size:100, used:4\n0xP: key=256 use=0 exp=0\n0xP: key=1 use=0 exp=0\n0xP: key=42 use=0 exp=0\n0xP: key=4294967295 use=0 exp=0\n"},
		{Config{Name: "v6", Type: KeyIPv6}, []string{"::1", "1.2.3.4", "::1.2.3.4", "2001:db8::1"},
			"# table: v6, type: ipv6, size:100, used:4\n0xP: key=::1 use=0 exp=0\n0xP: key=::1.2.3.4 use=0 exp=0\n0xP: key=::ffff:1.2.3.4 use=0 exp=0\n0xP: key=2001:db8::1 use=0 exp=0\n"},
		{Config{Name: "b", Type: KeyBinary, KeyLen: 3}, []string{"0aff", "01"},
			"# table: b, type: binary, size:100, used:2\n0xP: key=010000 use=0 exp=0\n0xP: key=0AFF00 use=0 exp=0\n"},
	}
	for _, tc := range tests {
		tc.cfg.Size = 100
		tb, _ := newTable(t, tc.cfg)
		for _, ks := range tc.keys {
			k, err := tb.ParseKey(ks)
			require.NoError(t, err, ks)
			require.NoError(t, tb.SetData(k, nil))
		}
		require.Equal(t, tc.want, dump(t, tb), tc.cfg.Name)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tb, _ := newTable(t, Config{Name: "f", Type: KeyIPv4, Store: []DataSpec{{DataGPC0, 0, 0}, {DataConnCur, 0, 0}}})
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"key"}, "Key value expected"},
		{[]string{"key", "300.1.1.1"}, "Invalid key"},
		{[]string{"data.foo", "gt", "0"}, "Filter entry #1: Unknown data type"},
		{[]string{"data.gpc0", "gt", "1", "data.conn_rate", "gt", "0"}, "Filter entry #2: Data type not stored in this table"},
		{[]string{"data.gpc0", "xx", "1"}, `Filter entry #1: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"`},
		{[]string{"data.gpc0"}, `Filter entry #1: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"`},
		{[]string{"data.gpc0", "gt", "abc"}, "Filter entry #1: Require a valid integer value to compare against"},
		{[]string{"data.gpc0", "gt", "3", "data.conn_cur", "eq", "2", "data.conn_cur", "eq", "2", "data.conn_cur", "eq", "2", "data.conn_cur", "eq", "2"},
			"Detected extra data in filter, 16th word of input, after '2'"},
	}
	for _, tc := range tests {
		_, err := tb.ParseFilter(tc.args)
		require.ErrorIs(t, err, ErrBadFilter, "%v", tc.args)
		require.EqualError(t, err, tc.msg)
	}
	for args, msg := range map[string]string{
		"data.nope 5":     "Unknown data type",
		"data.sess_cnt 5": "Data type not stored in this table",
		"data.gpc0 x":     "Require a valid integer value to store",
		"data.gpc0":       "Require a valid integer value to store",
	} {
		_, err := tb.ParseSetData(strings.Fields(args))
		require.EqualError(t, err, msg, args)
	}
	require.ErrorIs(t, tb.SetData([]byte{1, 1, 1, 1}, []DataValue{{DataSessCnt, 1}}), ErrNotStored)
	require.Equal(t, 0, tb.Len(), "nothing is created when a type is refused")
}

func TestClearByKeyAndFilter(t *testing.T) {
	tb, _ := newTable(t, Config{Name: "f", Type: KeyIPv4, Store: []DataSpec{{DataGPC0, 0, 0}}})
	for i := range uint32(10) {
		require.NoError(t, tb.SetData(ip4(i), []DataValue{{DataGPC0, int64(i)}}))
	}
	f, err := tb.ParseFilter([]string{"data.gpc0", "lt", "5"})
	require.NoError(t, err)
	n, err := tb.Clear(&f)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Equal(t, 5, tb.Len())
	f, err = tb.ParseFilter([]string{"key", "0.0.0.7"})
	require.NoError(t, err)
	n, err = tb.Clear(&f)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = tb.Lookup(ip4(7))
	require.ErrorIs(t, err, ErrNotFound)
	n, err = tb.Clear(nil)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Equal(t, 0, tb.Len())
}

// TestDumpMatchesHAProxy sends the same "set table" commands to a real
// haproxy and to tables built from the same configuration, and compares
// the "show table" answers byte for byte, entry addresses aside.
func TestDumpMatchesHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("haproxy not found and CI=true")
			}
			t.Skip("haproxy not installed: skipping the comparison with HAProxy's show table")
		}
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	tables := map[string]string{
		"f":  "type ip size 1m store conn_cur,conn_rate(10s),gpc0,http_req_rate(10s),server_id,gpt0,bytes_in_cnt,bytes_out_rate(1m)",
		"s":  "type string len 8 size 100 store gpc0,gpc1,conn_cnt,sess_cnt,http_req_cnt,http_err_cnt,bytes_out_cnt,http_fail_cnt",
		"i":  "type integer size 100 store conn_cnt",
		"v6": "type ipv6 size 100 store conn_cnt",
		"e":  "type ip size 100 expire 30s store gpc0",
		"a":  "type ip size 100 store http_req_cnt,gpc_rate(3,10s),gpt(2),gpc(3)",
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global\n    stats socket %s mode 600 level admin\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n", sock)
	for name, line := range tables {
		fmt.Fprintf(&cfg, "backend %s\n    stick-table %s\n", name, line)
	}
	cfgPath := filepath.Join(dir, "h.cfg")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", cfgPath, "-db")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	cli := func(line string) string {
		var c net.Conn
		require.Eventually(t, func() bool {
			c, err = net.Dial("unix", sock)
			return err == nil
		}, 5*time.Second, 10*time.Millisecond)
		defer c.Close()
		_, err := c.Write([]byte(line + "\n"))
		require.NoError(t, err)
		var out bytes.Buffer
		_, err = bufio.NewReader(c).WriteTo(&out)
		require.NoError(t, err)
		return out.String()
	}

	ours := map[string]*Table{}
	for name, line := range tables {
		c, err := ParseConfig(strings.Fields(line))
		require.NoError(t, err)
		c.Name = name
		tb, _ := newTable(t, c)
		ours[name] = tb
	}
	sets := []string{
		"f key 1.2.3.4 data.gpc0 5 data.conn_cur 2 data.conn_rate 5",
		"f key 9.9.9.9 data.server_id -3 data.gpt0 -1 data.bytes_in_cnt 99999999999",
		"f key 1.2.3.5 data.gpc0 -1",
		`s key a\ b=c\\d data.gpc0 1`,
		"s key 0123456789 data.gpc1 2",
		"s key abc data.bytes_out_cnt 7",
		"i key 42 data.conn_cnt 7",
		"i key 256 data.conn_cnt 1",
		"i key 4294967295",
		"i key 1",
		"v6 key ::1 data.conn_cnt 1",
		"v6 key 2001:db8::1",
		"v6 key ::ffff:1.2.3.4",
		"e key 10.0.0.1 data.gpc0 3",
		// On the socket an array's name is its element 0.
		"a key 1.1.1.1 data.gpc 4 data.gpt 5 data.gpc_rate 2",
		"a key 1.1.1.2 data.gpc 1 data.http_req_cnt 3",
		"a key 1.1.1.3",
	}
	for _, s := range sets {
		require.Equal(t, "\n", cli("set table "+s), s)
		words := strings.Fields(strings.NewReplacer(`\ `, "\x00", `\\`, "\x01").Replace(s))
		for i := range words {
			words[i] = strings.NewReplacer("\x00", " ", "\x01", `\`).Replace(words[i])
		}
		tb := ours[words[0]]
		k, err := tb.ParseKey(words[2])
		require.NoError(t, err, s)
		vals, err := tb.ParseSetData(words[3:])
		require.NoError(t, err, s)
		require.NoError(t, tb.SetData(k, vals))
	}
	expRE := regexp.MustCompile(` exp=\d+`)
	shows := []string{"f", "f data.gpc0 gt 3", "f data.gpc0 gt 3 data.conn_cur eq 2", "f key 9.9.9.9",
		"f data.conn_rate ge 5", "s", "i", "v6", "e", "f data.gpc0 eq 1",
		"a", "a data.gpc gt 1", "a data.gpc_rate eq 2", "a data.gpt eq 0", "a key 1.1.1.2"}
	for _, s := range shows {
		want := cli("show table " + s)
		words := strings.Fields(s)
		f, err := ours[words[0]].ParseFilter(words[1:])
		require.NoError(t, err)
		var got bytes.Buffer
		require.NoError(t, ours[words[0]].Dump(&got, &f))
		got.WriteString("\n") // the empty line ending a CLI answer
		norm := func(s string) string { return expRE.ReplaceAllString(ptrRE.ReplaceAllString(s, "0xP:"), " exp=N") }
		require.Equal(t, norm(want), norm(got.String()), "show table %s", s)
	}
	for _, s := range []string{"f data.foo gt 0", "f data.gpc0 xx 1", "f data.gpc0 gt abc", "f key",
		"f data.gpc0 gt 3 data.conn_cur eq 2 data.conn_cur eq 2 data.conn_cur eq 2 data.conn_cur eq 2",
		"a data.gpc(1) gt 0", "a data.gpc1 gt 0", "a data.gpc0 gt 0", "a data.gpt0 eq 0"} {
		want := cli("show table " + s)
		words := strings.Fields(s)
		_, err := ours[words[0]].ParseFilter(words[1:])
		require.Error(t, err, s)
		require.Equal(t, want, err.Error()+"\n\n", s)
	}
}
