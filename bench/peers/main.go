// Command peers measures stick-table sync between two members of a peers
// section, haproxy beside lb: the same configuration file runs twice
// under haproxy (-L a, -L b) and twice under lb, and for each pair the
// driver loads N keys into member a through its runtime API ("set table",
// 200 commands per connection, ';'-separated) and times how long member
// b takes to hold them all. It prints, per run, the load time on a, the
// time until b holds every key, and both members' CPU time per 100,000
// updates, then the medians of the lb/haproxy ratios of neighbouring
// runs.
//
//	go run ./peers -lb /path/to/lb [-haproxy /usr/sbin/haproxy] [-n 100000] [-rounds 3]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const config = `global
    stats socket "${SOCK}" level admin
    stats timeout 1m
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers p
    peer a "127.0.0.1:${PORT_A}"
    peer b "127.0.0.1:${PORT_B}"
backend t
    stick-table type ip size 2m expire 10m store gpc0,conn_cnt peers p
`

type member struct {
	cmd  *exec.Cmd
	sock string
	out  bytes.Buffer
}

func start(bin string, haproxy bool, name, dir, cfg string, ports [2]int) (*member, error) {
	m := &member{sock: filepath.Join(dir, name+".sock")}
	args := []string{"-L", name, "-f", cfg}
	if haproxy {
		args = append([]string{"-db"}, args...) // haproxy in the foreground
	}
	m.cmd = exec.Command(bin, args...)
	m.cmd.Env = append(os.Environ(), "SOCK="+m.sock,
		"PORT_A="+strconv.Itoa(ports[0]), "PORT_B="+strconv.Itoa(ports[1]))
	m.cmd.Stdout, m.cmd.Stderr = &m.out, &m.out
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	for range 1000 {
		if _, err := cli(m.sock, "show info"); err == nil {
			return m, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.stop()
	return nil, fmt.Errorf("%s %s did not open its socket: %s", bin, name, m.out.String())
}

func (m *member) stop() {
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
}

// cpu returns the member's user+system CPU time.
func (m *member) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

func cli(sock, line string) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

var usedRe = regexp.MustCompile(`used:(\d+)`)

func used(sock string) int {
	out, err := cli(sock, "show table")
	if err != nil {
		return -1
	}
	m := usedRe.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func key(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

type result struct {
	load, sync time.Duration
	cpuA, cpuB time.Duration
}

func run(bin string, haproxy bool, dir string, n int, ports [2]int) (result, error) {
	var r result
	cfg := filepath.Join(dir, "peers.cfg")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return r, err
	}
	a, err := start(bin, haproxy, "a", dir, cfg, ports)
	if err != nil {
		return r, err
	}
	defer a.stop()
	b, err := start(bin, haproxy, "b", dir, cfg, ports)
	if err != nil {
		return r, err
	}
	defer b.stop()
	// Wait for the session: a key set on a shows up on b.
	if _, err := cli(a.sock, "set table t key 192.0.2.1 data.gpc0 1"); err != nil {
		return r, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for used(b.sock) != 1 {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s: the members did not sync: %s %s", bin, a.out.String(), b.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpuA, cpuB := a.cpu(), b.cpu()
	t0 := time.Now()
	var line strings.Builder
	for i := 0; i < n; {
		line.Reset()
		for j := 0; j < 200 && i < n; j, i = j+1, i+1 {
			if j > 0 {
				line.WriteByte(';')
			}
			fmt.Fprintf(&line, "set table t key %s data.gpc0 %d", key(i), i&1023)
		}
		if out, err := cli(a.sock, line.String()); err != nil || strings.TrimSpace(out) != "" {
			return r, fmt.Errorf("%s: set table: %v %q", bin, err, out)
		}
	}
	r.load = time.Since(t0)
	deadline = time.Now().Add(120 * time.Second)
	for used(b.sock) != n+1 {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s: b holds %d keys of %d after 120 s", bin, used(b.sock), n+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.sync = time.Since(t0)
	r.cpuA, r.cpuB = a.cpu()-cpuA, b.cpu()-cpuB
	return r, nil
}

func freePorts() [2]int {
	var p [2]int
	for i := range p {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		p[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return p
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	lb := flag.String("lb", "", "lb binary (required)")
	hap := flag.String("haproxy", "/usr/sbin/haproxy", "haproxy binary")
	n := flag.Int("n", 100000, "keys loaded into member a")
	rounds := flag.Int("rounds", 3, "rounds, each running both pairs")
	flag.Parse()
	if *lb == "" {
		log.Fatal("-lb is required")
	}
	dir, err := os.MkdirTemp("", "peers-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	per := float64(*n) / 100000
	fmt.Printf("%d keys set on member a, timed until member b holds them all\n\n", *n)
	fmt.Println("| round | proxy | load on a (s) | until b holds all (s) | CPU s per 100k, a | CPU s per 100k, b |")
	fmt.Println("|---|---|---|---|---|---|")
	var syncR, cpuAR, cpuBR []float64
	for round := 1; round <= *rounds; round++ {
		order := []string{*hap, *lb}
		if round%2 == 0 {
			order = []string{*lb, *hap}
		}
		res := map[string]result{}
		for _, bin := range order {
			r, err := run(bin, bin == *hap, dir, *n, freePorts())
			if err != nil {
				log.Fatal(err)
			}
			res[bin] = r
			name := "haproxy"
			if bin == *lb {
				name = "lb"
			}
			fmt.Printf("| %d | %s | %.2f | %.2f | %.2f | %.2f |\n", round, name, r.load.Seconds(), r.sync.Seconds(),
				r.cpuA.Seconds()/per, r.cpuB.Seconds()/per)
		}
		h, l := res[*hap], res[*lb]
		syncR = append(syncR, l.sync.Seconds()/h.sync.Seconds())
		if h.cpuA > 0 && h.cpuB > 0 {
			cpuAR = append(cpuAR, l.cpuA.Seconds()/h.cpuA.Seconds())
			cpuBR = append(cpuBR, l.cpuB.Seconds()/h.cpuB.Seconds())
		}
	}
	fmt.Printf("\nmedians of the lb/haproxy ratios: time until b holds all %.2f", median(syncR))
	if len(cpuAR) > 0 {
		fmt.Printf(", CPU a %.2f, CPU b %.2f", median(cpuAR), median(cpuBR))
	}
	fmt.Println()
}
