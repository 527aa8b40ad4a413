package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// convCase is one converter expression to observe: "%[expr]" answered
// for a request whose X-In header (read with req.fhdr(x-in)) is in.
type convCase struct {
	expr string
	in   string
}

// convAnswers returns what haproxy answers for each case, then what lb
// answers, as "expr => [value]" lines, from one frontend that returns
// "[%[expr]]" for the request's path /N (the case's index).
func convAnswers(t *testing.T, cases []convCase, global string) (want, got []string) {
	t.Helper()
	return convAnswersAfter(t, cases, global, "")
}

// convAnswersAfter is convAnswers with the frontend's rules before the
// answers (setting variables the expressions read, say).
func convAnswersAfter(t *testing.T, cases []convCase, global, rules string) (want, got []string) {
	t.Helper()
	haproxyBin(t)
	run := func(start func(text string)) (out []string) {
		p := freePorts(t, 1)
		var b strings.Builder
		fmt.Fprintf(&b, "global\n%sdefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend f\n    bind 127.0.0.1:%d\n", global, p[0])
		b.WriteString(rules)
		for i, c := range cases {
			b.WriteString(`    http-request return status 200 content-type text/plain lf-string "[%[` + c.expr + `]]" if { path /` + strconv.Itoa(i) + " }\n")
		}
		start(b.String())
		client := &http.Client{Timeout: 5 * time.Second}
		for i, c := range cases {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/%d", p[0], i), nil)
			require.NoError(t, err)
			req.Header.Set("X-In", c.in)
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			out = append(out, c.expr+" => "+string(body))
		}
		return out
	}
	want = run(func(text string) { startHAProxyReady(t, text) })
	got = run(func(text string) { startInProcess(t, text) })
	return want, got
}

// convRefused checks that haproxy -c and lb both refuse a configuration
// using each expression, and returns lb's error for each.
func convRefused(t *testing.T, exprs []string) []string {
	t.Helper()
	bin := haproxyBin(t)
	var errs []string
	for _, e := range exprs {
		text := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:1\n" +
			`    http-request return status 200 content-type text/plain lf-string "%[` + e + `]"` + "\n"
		out, _ := exec.Command(bin, "-c", "-f", writeFile(t, "refused.cfg", text)).CombinedOutput()
		require.Regexp(t, regexp.MustCompile(`converter '[a-z0-9_]+'`), string(out), "haproxy refuses %s", e)
		errs = append(errs, lbRefused(t, e))
	}
	return errs
}

// lbRefused returns lb's error for a configuration using expr.
func lbRefused(t *testing.T, expr string) string {
	t.Helper()
	text := "defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n" +
		`    http-request return status 200 content-type text/plain lf-string "%[` + expr + `]"` + "\n"
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
	if err == nil {
		err = balancer.Check(cfg)
	}
	require.Error(t, err, "lb refuses %s", expr)
	return err.Error()
}
