package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// checkParity runs "haproxy -c" and lb's parser on the same text and
// requires the same verdict and, when both accept it, the same warnings,
// each with its line. It returns the warnings (as "line: text") so that
// a caller can also require the one it is about.
func checkParity(t *testing.T, text string) (warnings []string) {
	t.Helper()
	return checkParityWith(t, text, nil)
}

// checkParityWith is checkParity with settle run on lb's configuration
// once it is parsed, as lb's start runs it (SetLocalPeer, say); its
// error counts as lb's refusal.
func checkParityWith(t *testing.T, text string, settle func(*config.Config) error) (warnings []string) {
	t.Helper()
	bin := haproxyBin(t)
	path := writeFile(t, "p.cfg", text)
	out, herr := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	// haproxy names the file as given, lb as the source is named.
	out = bytes.ReplaceAll(out, []byte(filepath.Dir(path)+"/"), nil)
	cfg, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
	if err == nil && settle != nil {
		err = settle(cfg)
	}
	if herr != nil {
		require.Error(t, err, "haproxy refuses it: %s", out)
		return nil
	}
	require.NoError(t, err, "haproxy takes it: %s", out)
	hap := regexp.MustCompile(`\[WARNING\][^:]*: config : (?:(?:parsing )?\[[^]]*p\.cfg:(\d+)\] ?: )?(.*)`)
	var want []string
	for _, m := range hap.FindAllStringSubmatch(string(out), -1) {
		want = append(want, m[1]+": "+strings.TrimSpace(m[2]))
	}
	lbw := regexp.MustCompile(`^(?:p\.cfg:(\d+): )?(.*)`)
	var got []string
	for _, w := range cfg.Warnings {
		m := lbw.FindStringSubmatch(w)
		got = append(got, m[1]+": "+strings.TrimSpace(m[2]))
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "haproxy's warnings, then lb's")
	return got
}

const parityBase = `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:18001
    default_backend be
backend be
    server s 127.0.0.1:2
`

// TestInteropBackendLogFormatMatchesHAProxy: log-format in a backend is
// ignored with haproxy's warning, its arguments still checked.
func TestInteropBackendLogFormatMatchesHAProxy(t *testing.T) {
	w := checkParity(t, parityBase+`    log-format "%ci:%cp [%t] %{+Q}zz"
`)
	require.Equal(t, []string{"11: backend 'be' : 'log-format' directive is ignored in backends."}, w)
	checkParity(t, parityBase+"    log-format\n")
	checkParity(t, parityBase+"    log-format %ci x\n")
}

// TestInteropMisplacedTimeoutMatchesHAProxy: a client timeout in a
// backend, or a server one in a frontend, is ignored with haproxy's
// warning once its value is checked.
func TestInteropMisplacedTimeoutMatchesHAProxy(t *testing.T) {
	w := checkParity(t, parityBase+"    timeout client 60s\n    timeout client-fin 5s\n")
	require.Equal(t, []string{
		"11: 'timeout client' will be ignored because backend 'be' has no frontend capability",
		"12: 'timeout client-fin' will be ignored because backend 'be' has no frontend capability",
	}, w)
	w = checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    timeout server 5s\n", 1))
	require.Equal(t, []string{"9: 'timeout server' will be ignored because frontend 'fe' has no backend capability"}, w)
	checkParity(t, parityBase+"    timeout client 60x\n")
}

// TestInteropStatsBindProcessMatchesHAProxy: "stats bind-process" and
// "stats maxconn" in global are taken (haproxy 2.6 runs one process) and
// their values checked as haproxy checks them.
func TestInteropStatsBindProcessMatchesHAProxy(t *testing.T) {
	for _, l := range []string{"stats bind-process 1", "stats bind-process all", "stats bind-process odd even 1-",
		"stats bind-process 2", "stats bind-process 1-4", "stats bind-process x", "stats bind-process 0",
		"stats maxconn 10", "stats maxconn 0", "stats maxconn"} {
		t.Run(l, func(t *testing.T) {
			require.Empty(t, checkParity(t, "global\n    "+l+"\n"+parityBase))
		})
	}
}

// TestInteropOnMarkedInHTTPMatchesHAProxy: on-marked-down and
// on-marked-up, here inherited from a mode tcp default-server, are taken
// in a mode http backend without a word, as haproxy takes them.
func TestInteropOnMarkedInHTTPMatchesHAProxy(t *testing.T) {
	require.Empty(t, checkParity(t, `defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    default-server inter 2s on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions
frontend fe
    bind 127.0.0.1:18001
    mode http
    default_backend be
backend be
    mode http
    server s 127.0.0.1:2 check
`))
}

// TestInteropZeroWarningMatchesHAProxy: lb gives no warning haproxy does
// not give (a stats-only frontend, expose-fd listeners, keywords lb
// takes with no effect...), so zero-warning does not stop a configuration
// haproxy starts; the warnings both give read alike.
func TestInteropZeroWarningMatchesHAProxy(t *testing.T) {
	require.Empty(t, checkParity(t, `global
    zero-warning
    stats socket /tmp/lb-zero-warning.sock mode 600 level admin expose-fd listeners
    tune.ssl.default-dh-param 2048
    grace 1s
    maxsslconn 100
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend stats
    bind 127.0.0.1:18002 nice 10
    bind 127.0.0.1:18003 alpn h2
    stats enable
    stats uri /
    declare capture request len 10 extra
frontend plain
    bind 127.0.0.1:18004
`))
	w := checkParity(t, `defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen t
    mode tcp
    bind 127.0.0.1:18006
    http-request deny
    http-response deny
    redirect location /
    stats enable
    server s 127.0.0.1:2
backend be
    tcp-check connect
    server s 127.0.0.1:2
frontend nobind
    default_backend be
`)
	require.Len(t, w, 6)
}

// TestInteropAcceptInvalidHTTPMatchesHAProxy: the accept-invalid-http
// options are taken on their side, and ignored with haproxy's warning on
// the other.
func TestInteropAcceptInvalidHTTPMatchesHAProxy(t *testing.T) {
	opts := "    option accept-invalid-http-request\n    option accept-invalid-http-response\n"
	w := checkParity(t, strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n"+opts, 1))
	require.Equal(t, []string{"10: 'accept-invalid-http-response' ignored because frontend 'fe' has no backend capability."}, w)
	w = checkParity(t, parityBase+opts)
	require.Equal(t, []string{"11: 'accept-invalid-http-request' ignored because backend 'be' has no frontend capability."}, w)
}

// TestInteropTuneAndStatsModulesMatchHAProxy: tune.ssl.maxrecord,
// tune.maxpollevents, stats show-modules and option socket-stats are
// taken, as haproxy takes them.
func TestInteropTuneAndStatsModulesMatchHAProxy(t *testing.T) {
	require.Empty(t, checkParity(t, "global\n    tune.ssl.maxrecord 1400\n    tune.maxpollevents 100\n"+
		strings.Replace(parityBase, "    default_backend be\n", "    default_backend be\n    stats enable\n    stats show-modules\n    option socket-stats\n", 1)))
	w := checkParity(t, parityBase+"    option socket-stats\n")
	require.Equal(t, []string{"11: 'socket-stats' ignored because backend 'be' has no frontend capability."}, w)
}

// TestInteropTCPCheckConnectPortMatchesHAProxy: a checked server without
// a port is taken when the rules of "option tcp-check" begin with a
// "connect" that has a port and no other "connect" lacks one.
func TestInteropTCPCheckConnectPortMatchesHAProxy(t *testing.T) {
	const be = `defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:18001
    default_backend be
backend be
`
	for name, tc := range map[string]struct {
		rules string
		want  string // the end of haproxy's message, or "" when taken
	}{
		"first connect has a port": {"    option tcp-check\n    tcp-check comment c\n    tcp-check connect port 6443\n    tcp-check send x\n", ""},
		"with an addr":             {"    option tcp-check\n    tcp-check connect port 80 addr 127.0.0.1\n", ""},
		"connect without port":     {"    option tcp-check\n    tcp-check connect\n", "check port nor tcp_check rule 'connect' with port information"},
		"second connect no port":   {"    option tcp-check\n    tcp-check connect port 80\n    tcp-check connect\n", "check port, and a tcp_check rule 'connect' with no port information"},
		"only a send":              {"    option tcp-check\n    tcp-check send x\n", "check port nor tcp_check rule 'connect' with port information"},
		"no rules":                 {"    option tcp-check\n", "has neither service port nor check port"},
		"rules without the option": {"    tcp-check connect port 80\n", "has neither service port nor check port"},
		"httpchk":                  {"    option httpchk\n    tcp-check connect port 80\n", "check port nor tcp_check rule 'connect' with port information"},
	} {
		t.Run(name, func(t *testing.T) {
			text := be + tc.rules + "    server s 127.0.0.1 check inter 5s\n"
			checkParity(t, text)
			_, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
			if tc.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.want)
			}
		})
	}
}

// TestInteropCipherListUnknownWordsMatchHAProxy: words OpenSSL does not
// know select nothing, so a list is taken as long as the rest selects
// some cipher; a list that selects nothing, or holds a character that
// cannot start a word, is refused.
func TestInteropCipherListUnknownWordsMatchHAProxy(t *testing.T) {
	crt := newPKI(t, "ciphers").issue("srv.pem", "srv", nil, false, false)
	for _, tc := range []struct {
		ciphers string
		ok      bool
	}{
		{"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AE$", true},
		{"ECDHE-ECDSA-AES128-GCM-SHA256:NOT-A-CIPHER:!TYPO", true},
		{"NOT-A-CIPHER", false},
		{"ECDHE-ECDSA-AES128-GCM-SHA256:$X", false},
	} {
		for _, where := range []string{"global", "bind"} {
			glob, bind := "", ""
			if where == "global" {
				glob = "global\n    ssl-default-bind-ciphers " + tc.ciphers + "\n"
			} else {
				bind = " ciphers " + tc.ciphers
			}
			text := glob + strings.Replace(parityBase, "bind 127.0.0.1:18001", "bind 127.0.0.1:18001 ssl crt "+crt+bind, 1)
			checkParity(t, text)
			_, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
			if tc.ok {
				require.NoError(t, err, tc.ciphers)
			} else {
				require.ErrorContains(t, err, "unable to set SSL cipher list to '"+tc.ciphers+"'")
			}
		}
	}
}

// TestInteropExternalCheckConfigMatchesHAProxy: option external-check and
// its keywords are refused and warned about as haproxy 2.6 does.
func TestInteropExternalCheckConfigMatchesHAProxy(t *testing.T) {
	const be = "backend b\n    option external-check\n    server s 127.0.0.1:2 check\n"
	for _, text := range []string{
		"global\n    external-check\n    insecure-fork-wanted\n" + parityBase + be + "    external-check command /bin/true\n    external-check path /bin\n",
		"global\n    external-check\n" + parityBase + be + "    external-check command /bin/true\n",
		"global\n    insecure-fork-wanted\n" + parityBase + be + "    external-check command /bin/true\n",
		"global\n    external-check\n    insecure-fork-wanted\n" + parityBase + be,
		"global\n    external-check preserve-env\n" + parityBase,
		"global\n    external-check\n" + parityBase + "    external-check command /bin/true\n",
		"global\n    external-check\n" + parityBase + "    option external-check\n    no option external-check\n    external-check command /bin/true\n",
		"global\n    external-check\n" + parityBase + "    external-check command\n",
		"global\n    external-check\n" + parityBase + "    external-check command /bin/true x\n",
		"global\n    external-check\n    insecure-fork-wanted\n" + parityBase + "    option external-check\n    option tcp-check\n    external-check command /bin/true\n",
		"global\n    external-check\n    insecure-fork-wanted\ndefaults d\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n    option external-check\n    external-check command /bin/true\nlisten l\n    bind 127.0.0.1:18001\n    server s 127.0.0.1:2 check\n",
	} {
		checkParity(t, text)
	}
}

// TestInteropSSLTuningKeywordsMatchHAProxy: haproxy's global keywords
// for its OpenSSL use, which lb checks and ignores, with its verdicts.
func TestInteropSSLTuningKeywordsMatchHAProxy(t *testing.T) {
	for _, line := range []string{
		"ssl-mode-async", "ssl-mode-async on", "ssl-skip-self-issued-ca", "ssl-load-extra-del-ext",
		"ssl-load-extra-files none", "ssl-load-extra-files all", "ssl-load-extra-files bundle sctl ocsp issuer key",
		"ssl-load-extra-files", "ssl-load-extra-files bogus", "ssl-load-extra-files none key", "ssl-load-extra-files all all",
	} {
		t.Run(line, func(t *testing.T) {
			checkParity(t, "global\n    "+line+"\n"+parityBase)
		})
	}
	checkParity(t, parityBase+"    ssl-mode-async\n")
}
