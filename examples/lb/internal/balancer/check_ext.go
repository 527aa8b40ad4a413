package balancer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// extCodeCannotRun is the status a check whose command could not be
// started reports, as HAProxy's child that failed to exec exits with.
const extCodeCannotRun = 255

// errExtTimeout is an external check that outlived timeout check (or
// inter) and was killed.
var errExtTimeout = errors.New("external check timeout")

// extCheckArgs are the arguments and environment of an external check
// of s, as HAProxy 2.6 gives them: the proxy's first listening address
// and port (NOT_USED for a backend, which has none), then the server's;
// the environment names the proxy and the server and holds nothing of
// lb's own, PATH being "external-check path".
func (b *Balancer) extCheckArgs(s *Server, proxyID int) (args, env []string) {
	be := s.be
	pxAddr, pxPort := "", ""
	if len(be.cfg.Binds) > 0 && len(be.cfg.Binds[0].Addrs) > 0 {
		if h, p, err := net.SplitHostPort(be.cfg.Binds[0].Addrs[0]); err == nil {
			pxAddr, pxPort = h, p
		}
	}
	srvAddr, srvPort, err := net.SplitHostPort(s.address())
	if err != nil {
		srvAddr, srvPort = s.address(), ""
	}
	argAddr, argPort := pxAddr, pxPort
	if argAddr == "" {
		argAddr = "NOT_USED"
	}
	if argPort == "" {
		argPort = "NOT_USED"
	}
	be.mu.Lock()
	cur, maxconn := s.cur, s.maxconn
	be.mu.Unlock()
	ssl := "0"
	if s.cfg.SSL.Enabled {
		ssl = "1"
	}
	args = []string{argAddr, argPort, srvAddr, srvPort}
	env = []string{
		"PATH=" + be.cfg.ExternalCheckPath,
		"HAPROXY_PROXY_ADDR=" + pxAddr,
		"HAPROXY_PROXY_ID=" + strconv.Itoa(proxyID),
		"HAPROXY_PROXY_NAME=" + be.cfg.Name,
		"HAPROXY_PROXY_PORT=" + pxPort,
		"HAPROXY_SERVER_ADDR=" + srvAddr,
		"HAPROXY_SERVER_CURCONN=" + strconv.Itoa(cur),
		"HAPROXY_SERVER_ID=" + strconv.Itoa(s.cfg.ID),
		"HAPROXY_SERVER_MAXCONN=" + strconv.Itoa(maxconn),
		"HAPROXY_SERVER_NAME=" + s.cfg.Name,
		"HAPROXY_SERVER_PORT=" + srvPort,
		"HAPROXY_SERVER_PROTO=tcp",
		"HAPROXY_SERVER_SSL=" + ssl,
	}
	return args, env
}

// extCheck runs one external check of s: the command, without a shell,
// with its standard output and error the balancer's. It returns the
// command's exit status, extCodeCannotRun when it could not be started,
// or errExtTimeout when ctx ended first: the command and whatever it
// started in its process group are then killed, and the command reaped,
// before extCheck returns.
func (b *Balancer) extCheck(ctx context.Context, s *Server, proxyID int) (int, error) {
	args, env := b.extCheckArgs(s, proxyID)
	path := s.be.cfg.ExternalCheckCommand
	cmd := exec.CommandContext(ctx, path)
	cmd.Path = path // as given: HAProxy does not search PATH for it
	cmd.Err = nil
	cmd.Args = append([]string{path}, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return extCodeCannotRun, nil
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return 0, errExtTimeout
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), nil
	}
	return extCodeCannotRun, nil // killed by a signal
}

// extOutcome counts an external check's result as HAProxy words it: exit
// status 0 passes, any other fails (PROCERR), and a command killed for
// taking too long fails as a timeout (PROCTOUT) with the last status.
func (c *checker) extOutcome(code int, err error, dur time.Duration) {
	if err != nil {
		c.failureReason(fmt.Sprintf("External check timeout, code: %d", c.httpCode()), dur)
		return
	}
	c.setHTTPCode(code)
	if code == 0 {
		c.setPassReason("External check passed, code: 0")
		c.success(dur)
		return
	}
	c.failureReason("External check error, code: "+strconv.Itoa(code), dur)
}
