package balancer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/stick"
)

// The runtime API on "stats socket": HAProxy's line protocol on a unix
// socket or a TCP port. A client sends one line of commands separated by ';' and gets
// each command's answer followed by an empty line, then the connection is
// closed; "prompt" keeps it open with a "> " prompt until "quit". The
// table commands print what HAProxy 2.6 prints, so scripts written for
// HAProxy read lb's answers.

// cliIdleTimeout closes a prompt-mode connection idle for this long when
// the configuration sets no "stats timeout": HAProxy's default.
const cliIdleTimeout = 10 * time.Second

// cliMaxLine bounds one command line, as HAProxy's buffer does.
const cliMaxLine = 16384

type cliServer struct {
	b     *Balancer
	cfg   config.StatsSocket
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// backup holds the socket file found at the path, set aside until the
	// start succeeds, so that a start that fails later (a traffic port
	// taken, say) gives it back to the process that may still use it.
	backup string
}

// startCLI opens every "stats socket"; serveCLI starts answering on
// them, and a client connecting in between waits in the backlog. A
// socket file left at the path is replaced, as HAProxy does, once the
// start succeeds; until then it is kept aside and stopCLI puts it back.
func (b *Balancer) startCLI() error {
	for _, sc := range b.cfg.Global.StatsSockets {
		c := &cliServer{b: b, cfg: sc, conns: map[net.Conn]struct{}{}}
		// On a reload the socket is taken over, as the traffic ports
		// are; its file then takes the new mode and owner.
		key := handoverKey("cli", sc.Network, sc.Path, "")
		ln := b.opts.Inherit.take(key)
		if ln == nil && sc.Network != "tcp" {
			if fi, err := os.Lstat(sc.Path); err == nil && fi.Mode()&os.ModeSocket != 0 {
				c.backup = fmt.Sprintf("%s.%d.bak", sc.Path, os.Getpid())
				if os.Rename(sc.Path, c.backup) != nil {
					c.backup = ""
					_ = os.Remove(sc.Path)
				}
			}
		}
		if ln == nil {
			var err error
			if ln, err = net.Listen(sc.Network, sc.Path); err != nil {
				c.restore()
				b.stopCLI()
				return fmt.Errorf("balancer: stats socket %s (%s): %w", sc.Path, sc.Pos, err)
			}
		}
		c.ln = ln
		b.clis = append(b.clis, c)
		b.addSocket(key, func() (net.Listener, error) { return conn.DupListener(ln) })
		if sc.Network == "tcp" {
			continue
		}
		if sc.Mode != 0 {
			if err := os.Chmod(sc.Path, os.FileMode(sc.Mode)); err != nil {
				b.stopCLI()
				return fmt.Errorf("balancer: stats socket %s (%s): mode: %w", sc.Path, sc.Pos, err)
			}
		}
		if sc.UID >= 0 || sc.GID >= 0 {
			if err := os.Chown(sc.Path, sc.UID, sc.GID); err != nil {
				b.stopCLI()
				return fmt.Errorf("balancer: stats socket %s (%s): owner: %w", sc.Path, sc.Pos, err)
			}
		}
	}
	return nil
}

// serveCLI answers on the sockets startCLI opened, dropping the files
// they replaced.
func (b *Balancer) serveCLI() {
	for _, c := range b.clis {
		if c.backup != "" {
			_ = os.Remove(c.backup)
			c.backup = ""
		}
		c.wg.Add(1)
		go c.serve()
	}
}

// restore puts back the socket file startCLI set aside, if any.
func (c *cliServer) restore() {
	if c.backup != "" {
		_ = os.Rename(c.backup, c.cfg.Path)
		c.backup = ""
	}
}

// stopCLI closes the sockets (removing their files) and every open
// connection, and waits for their goroutines.
func (b *Balancer) stopCLI() {
	for _, c := range b.clis {
		_ = c.ln.Close()
		c.restore()
		c.mu.Lock()
		for cn := range c.conns {
			_ = cn.Close()
		}
		c.conns = nil
		c.mu.Unlock()
		c.wg.Wait()
	}
	b.clis = nil
}

// stopStick stops what stick.go and cli.go started, once every session
// has ended.
func (b *Balancer) stopStick() {
	b.stopCLI()
	for _, fe := range b.fronts {
		fe.stick.drain()
	}
	b.closeTables()
}

func (c *cliServer) serve() {
	defer c.wg.Done()
	for {
		cn, err := c.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.b.log.Warn("stats socket accept failed", "path", c.cfg.Path, "err", err)
			}
			return
		}
		c.mu.Lock()
		if c.conns == nil {
			c.mu.Unlock()
			_ = cn.Close()
			return
		}
		c.conns[cn] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			c.handle(cn)
			c.mu.Lock()
			delete(c.conns, cn)
			c.mu.Unlock()
			_ = cn.Close()
		}()
	}
}

func (c *cliServer) handle(cn net.Conn) {
	r := bufio.NewReaderSize(cn, 4096)
	w := bufio.NewWriter(cn)
	prompt := false
	sess := cliSession{level: c.cfg.Level}
	idle := c.b.cfg.Global.StatsTimeout
	if idle <= 0 {
		idle = cliIdleTimeout
	}
	for {
		// The first line waits as long as later ones: HAProxy applies
		// "stats timeout" to the whole client side of the CLI session.
		_ = cn.SetReadDeadline(time.Now().Add(idle))
		line, err := readLine(r)
		if err != nil {
			return
		}
		// A line ending with "<<" is followed by a payload that runs
		// to the first empty line, for its last command.
		var payload string
		if l, ok := strings.CutSuffix(line, "<<"); ok {
			line = l
			if payload, err = readPayload(r); err != nil {
				return
			}
		}
		cmds := splitCommands(line)
		for i, cmd := range cmds {
			words := strings.Fields(cmd)
			if len(words) == 0 {
				continue
			}
			pl := ""
			if i == len(cmds)-1 {
				pl = payload
			}
			switch words[0] {
			case "prompt":
				prompt = !prompt
				continue
			case "quit":
				_ = w.Flush()
				return
			}
			if len(words) >= 2 && words[0] == "show" && words[1] == "events" {
				if rd := c.b.showEvents(w, sess.level, words); rd != nil {
					c.b.followEvents(cn, r, w, rd)
					prompt = false
				}
			} else if !c.b.sessionCommand(w, &sess, words) {
				c.b.runCommand(w, sess.level, words, pl)
			}
			_ = w.WriteByte('\n')
		}
		if prompt {
			_, _ = w.WriteString("> ")
		}
		_ = cn.SetWriteDeadline(time.Now().Add(idle))
		if err := w.Flush(); err != nil || !prompt {
			return
		}
	}
}

// readLine reads one line, refusing lines longer than cliMaxLine.
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, part...)
		if len(buf) > cliMaxLine {
			return "", errors.New("command line too long")
		}
		if !isPrefix {
			return string(buf), nil
		}
	}
}

// readPayload reads the lines of a payload up to the first empty one, at
// most cliMaxLine bytes in all.
func readPayload(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := readLine(r)
		if err != nil {
			return "", err
		}
		if l == "" {
			return b.String(), nil
		}
		if b.Len()+len(l) > cliMaxLine {
			return "", errors.New("payload too long")
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// splitCommands splits a line at unescaped ';'.
func splitCommands(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == ';':
			cur.WriteByte(';')
			i++
		case line[i] == ';':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(out, cur.String())
}

var cliLevels = map[string]int{"user": 0, "operator": 1, "admin": 2}

// RunCommand runs one runtime API command line (without the trailing
// empty line of a socket answer) at the given access level, and returns
// what the socket would print. Tests and embedders use it without a
// socket.
//
// A line whose first line ends with "<<" carries a payload: the lines
// after it, as the socket reads them up to an empty line.
func (b *Balancer) RunCommand(level, line string) string {
	var buf bytes.Buffer
	var payload string
	if first, rest, ok := strings.Cut(line, "\n"); ok {
		if l, isPayload := strings.CutSuffix(first, "<<"); isPayload {
			line, payload = l, rest
			if i := strings.Index(payload, "\n\n"); i >= 0 {
				payload = payload[:i+1]
			} else if payload != "" && !strings.HasSuffix(payload, "\n") {
				payload += "\n"
			}
		}
	}
	sess := cliSession{level: level}
	cmds := splitCommands(line)
	for i, cmd := range cmds {
		if words := strings.Fields(cmd); len(words) > 0 {
			pl := ""
			if i == len(cmds)-1 {
				pl = payload
			}
			if !b.sessionCommand(&buf, &sess, words) {
				b.runCommand(&buf, sess.level, words, pl)
			}
		}
	}
	return buf.String()
}

// cliSession is what one runtime API connection may change about
// itself: its access level, which starts at its socket's and can only be
// lowered, and the expert and experimental modes, which lb keeps for
// HAProxy's scripts but has no commands behind.
type cliSession struct {
	level                string
	expert, experimental bool
}

// sessionCommand runs the commands about the session itself, as HAProxy
// answers them, and reports whether words was one.
func (b *Balancer) sessionCommand(w io.Writer, s *cliSession, words []string) bool {
	switch {
	case len(words) >= 3 && words[0] == "show" && words[1] == "cli" && words[2] == "level":
		fmt.Fprintf(w, "%s\n", s.level)
	case len(words) >= 3 && words[0] == "show" && words[1] == "cli" && words[2] == "sockets":
		b.showCLISockets(w)
	case words[0] == "user" || words[0] == "operator":
		if cliLevels[s.level] < cliLevels[words[0]] {
			fmt.Fprint(w, "Permission denied\n")
			break
		}
		s.level = words[0]
	case words[0] == "expert-mode" || words[0] == "experimental-mode":
		if cliLevels[s.level] < cliLevels["admin"] {
			fmt.Fprint(w, "Permission denied\n")
			break
		}
		mode := &s.expert
		if words[0] == "experimental-mode" {
			mode = &s.experimental
		}
		if len(words) < 2 {
			state := "OFF"
			if *mode {
				state = "ON"
			}
			fmt.Fprintf(w, "%s is %s\n", words[0], state)
			break
		}
		// As in HAProxy, any word but "on" turns the mode off.
		*mode = words[1] == "on"
	default:
		return false
	}
	return true
}

// showCLISockets answers "show cli sockets": each stats socket with its
// level, addresses written as HAProxy writes them.
func (b *Balancer) showCLISockets(w io.Writer) {
	fmt.Fprint(w, "# socket lvl processes\n")
	for _, sc := range b.cfg.Global.StatsSockets {
		addr := "unix@" + sc.Path
		if sc.Network == "tcp" {
			host, port, _ := net.SplitHostPort(sc.Path)
			switch ip := net.ParseIP(host); {
			case host == "":
				addr = "ipv4@0.0.0.0:" + port
			case ip == nil || ip.To4() != nil:
				addr = "ipv4@" + sc.Path
			default:
				addr = "ipv6@" + sc.Path
			}
		}
		fmt.Fprintf(w, "%s %s all\n", addr, sc.Level)
	}
}

func (b *Balancer) runCommand(w io.Writer, level string, words []string, payload string) {
	if b.cfg.Global.Lua.RunCLI(words, payload, w) {
		return
	}
	b.runBuiltin(w, level, words, payload)
}

// runBuiltin runs one of lb's own commands, not the scripts'.
func (b *Balancer) runBuiltin(w io.Writer, level string, words []string, payload string) {
	if b.mapCommand(w, words, payload) {
		return
	}
	if len(words) >= 2 && words[1] == "table" {
		switch words[0] {
		case "show":
			b.showTable(w, words)
			return
		case "clear":
			if cliLevels[level] < cliLevels["operator"] {
				_, _ = io.WriteString(w, "Permission denied\n")
				return
			}
			b.clearTable(w, words)
			return
		case "set":
			if cliLevels[level] < cliLevels["admin"] {
				_, _ = io.WriteString(w, "Permission denied\n")
				return
			}
			b.setTable(w, words)
			return
		}
	}
	if b.runtimeCommand(w, level, words) || b.serverCommand(w, level, words) || b.statsCommand(w, level, words) {
		return
	}
	if len(words) == 2 && words[0] == "show" {
		switch words[1] {
		case "cache":
			b.showCache(w)
			return
		case "ssl-cache":
			b.showSSLCache(w)
			return
		case "ssl-sync":
			b.showSSLSync(w)
			return
		}
	}
	if len(words) >= 2 && words[0] == "show" && words[1] == "events" {
		if rd := b.showEvents(w, level, words); rd != nil {
			rd.Close()
		}
		return
	}
	if words[0] == "help" {
		_, _ = io.WriteString(w, cliHelp)
		b.luaHelp(w)
		return
	}
	_, _ = io.WriteString(w, "Unknown command. Please enter one of the following commands only :\n"+cliHelp)
	b.luaHelp(w)
}

// luaHelp lists the usage of the commands scripts added, each on a line
// of its own, as haproxy's help does.
func (b *Balancer) luaHelp(w io.Writer) {
	for _, u := range b.cfg.Global.Lua.CLIUsages() {
		_, _ = io.WriteString(w, "  "+u+"\n")
	}
}

const cliHelp = `  help           : this message
  prompt         : toggle interactive mode with prompt
  quit           : disconnect
  show cli level : display the level of the current CLI session
  show cli sockets : dump list of cli sockets
  operator       : lower the level of the current CLI session to operator
  user           : lower the level of the current CLI session to user
  expert-mode [on|off] : toggle the expert mode (admin; no lb command needs it)
  experimental-mode [on|off] : toggle the experimental mode (admin; no lb command needs it)
  clear table    : remove an entry from a table
  set table [id] : update or create a table entry's data
  show table [id]: report table usage stats or dump this table's contents
  show stat      : report counters for each proxy and server
  show info      : report information about the running process
  show backend   : list backends in the current running config
  clear counters : clear max statistics counters (or all counters)
  get weight     : report a server's current weight
  set weight     : change a server's weight (use 'set server' instead)
  set server     : change a server's state, weight, address or check port
  disable server : put a server in maintenance (use 'set server' instead)
  enable server  : take a server out of maintenance (use 'set server' instead)
  set maxconn    : change a server's, a frontend's or the global maxconn
  disable frontend : temporarily disable a frontend (refusing connections)
  enable frontend  : re-enable a disabled frontend
  shutdown frontend : stop a frontend for good
  set dynamic-cookie-key backend <bk> <k> : change a backend secret key for dynamic cookies
  enable dynamic-cookie backend <bk> : enable dynamic cookies on a specific backend
  disable dynamic-cookie backend <bk> : disable dynamic cookies on a specific backend
  shutdown sessions : kill a server's sessions (shutdown sessions server <bk>/<srv>)
  disable health : disable a server's health checks
  enable health  : enable a server's health checks
  disable agent  : disable a server's agent checks
  enable agent   : enable a server's agent checks
  show servers state : dump volatile server information (all or one backend)
  show map [@<ver>] [<map>]   : report available maps or dump a map's contents
  get map <map> <value>       : report the keys and values matching a sample for a map
  add map [@<ver>] <map> <key> <value> : add a map entry (payload supported instead of key/value)
  set map <map> [<key>|#<ref>] <value> : modify a map entry
  del map <map> [<key>|#<ref>]         : delete map entries matching <key>
  clear map [@<ver>] <map>    : clear the contents of this map
  prepare map <map>           : prepare a new version for atomic map replacement
  commit map @<ver> <map>     : commit the map at this version
  show acl [@<ver>] [<acl>]   : report available acls or dump an acl's contents
  get acl <acl> <value>       : report the patterns matching a sample for an ACL
  add acl [@<ver>] <acl> <pattern>     : add an acl entry (payload supported)
  del acl <acl> [<key>|#<ref>]         : delete acl entries matching <key>
  clear acl [@<ver>] <acl>    : clear the contents of this acl
  prepare acl <acl>           : prepare a new version for atomic ACL replacement
  commit acl @<ver> <acl>     : commit the ACL at this version
  show events [<sink>] [-w] [-n] : show event sink state
  show cache     : show cache status
  show ssl-cache : report the TLS session cache's counters (lb only)
  show ssl-sync  : report ssl-session-sync's message counters (lb only)
`

// tableNames returns the tables in the order their proxies are declared,
// then those of the peers sections.
func (b *Balancer) tableNames() []string {
	var out []string
	for _, st := range b.cfg.StickTables() {
		if b.tables[st.Config.Name] != nil {
			out = append(out, st.Config.Name)
		}
	}
	return out
}

func writeCmdErr(w io.Writer, err error) {
	var ce *stick.CommandError
	if errors.As(err, &ce) {
		_, _ = io.WriteString(w, ce.Msg+"\n")
		return
	}
	_, _ = fmt.Fprintf(w, "%v\n", err)
}

func (b *Balancer) showTable(w io.Writer, words []string) {
	if len(words) == 2 {
		for _, name := range b.tableNames() {
			_ = b.tables[name].DumpHeader(w)
		}
		return
	}
	t := b.tables[words[2]]
	if t == nil {
		_, _ = io.WriteString(w, "No such table\n")
		return
	}
	f, err := t.ParseFilter(words[3:])
	if err != nil {
		writeCmdErr(w, err)
		return
	}
	if err := t.Dump(w, &f); err != nil {
		writeCmdErr(w, err)
	}
}

func (b *Balancer) clearTable(w io.Writer, words []string) {
	if len(words) < 3 {
		_, _ = io.WriteString(w, "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n")
		return
	}
	t := b.tables[words[2]]
	if t == nil {
		_, _ = io.WriteString(w, "No such table\n")
		return
	}
	f, err := t.ParseFilter(words[3:])
	if err != nil {
		writeCmdErr(w, err)
		return
	}
	if f.Key != nil {
		e, err := t.Lookup(f.Key)
		if err != nil {
			return // an absent key is not an error
		}
		inUse := e.Refs() > 1
		e.Release()
		if inUse {
			_, _ = io.WriteString(w, "Entry currently in use, cannot remove\n")
			return
		}
		_, _ = t.Delete(f.Key)
		return
	}
	_, _ = t.Clear(&f)
}

func (b *Balancer) setTable(w io.Writer, words []string) {
	if len(words) < 5 || words[3] != "key" {
		if len(words) >= 3 && b.tables[words[2]] == nil {
			_, _ = io.WriteString(w, "No such table\n")
			return
		}
		_, _ = io.WriteString(w, "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n")
		return
	}
	t := b.tables[words[2]]
	if t == nil {
		_, _ = io.WriteString(w, "No such table\n")
		return
	}
	key, err := t.ParseKey(words[4])
	if err != nil {
		_, _ = io.WriteString(w, "Invalid key\n")
		return
	}
	// As haproxy, the entry is created and touched, and the values
	// before a faulty pair stored, before the error is told.
	vals, perr := t.ParseSetData(words[5:])
	if err := t.SetData(key, vals); err != nil {
		writeCmdErr(w, err)
		return
	}
	if perr != nil {
		writeCmdErr(w, perr)
	}
}
