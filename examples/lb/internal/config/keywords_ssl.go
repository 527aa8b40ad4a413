package config

import (
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// The TLS keywords: bind and server options and the global ssl-default-*
// and tune.ssl.* settings. Each value is parsed by xprt/tls; this file
// only routes words there and, once the whole configuration is read,
// builds each TLS side so that a bad certificate, key, CA or ticket-key
// file stops the start with the line that named it.

// BindSSL is the TLS side of a bind line.
type BindSSL struct {
	// Enabled is set by "ssl": the listener speaks TLS.
	Enabled bool
	// Config holds the TLS options as written (crt, alpn, verify...).
	Config tls.BindConfig
	// Inbound is built from Config and the global defaults when parsing
	// ends, which loads and checks every file the line names. Nil when
	// the line has no ssl.
	Inbound *tls.Inbound
	// HandshakeTimeout is the frontend's timeout client, which bounds the
	// TLS handshake as in HAProxy; 0 when unset.
	HandshakeTimeout time.Duration

	options []string // TLS keywords seen, to warn when "ssl" is missing
}

// ServerSSL is the TLS side of a server line, and the PROXY protocol
// options that report the client's TLS connection.
type ServerSSL struct {
	// Enabled is set by "ssl": connections to the server speak TLS.
	Enabled bool
	// Config holds the TLS options as written. Its SNI is the fixed name
	// when the sni expression is a constant.
	Config tls.ServerConfig
	// SNI is the sni expression; the zero value sends the fixed Config.SNI
	// (none when empty).
	SNI SNIExpr
	// Outbound is built from Config and the global defaults when parsing
	// ends. Nil when the line has no ssl.
	Outbound *tls.Outbound
	// SendProxyV2SSL (send-proxy-v2-ssl) sends a PROXY v2 header with the
	// SSL TLV describing the client's connection; SendProxyV2SSLCN
	// (send-proxy-v2-ssl-cn) adds the client certificate's CN to it.
	SendProxyV2SSL, SendProxyV2SSLCN bool
}

// SNIExpr is a server's sni sample expression: str(NAME), a constant,
// and ssl_fc_sni, the SNI the client sent, each optionally followed by
// ",lower", read here; any other expression (req.hdr(host), a
// variable...) is evaluated by the balancer for each connection.
type SNIExpr struct {
	// Fetch is "str", "ssl_fc_sni" or "expr"; empty when no sni was
	// given.
	Fetch string
	// Value is the constant of str(), or the whole expression of expr.
	Value string
	// Lower applies the lower converter.
	Lower bool
}

// ParseSNIExpr parses a server's sni value.
func ParseSNIExpr(s string) (SNIExpr, error) {
	var e SNIExpr
	fetch, conv, _ := strings.Cut(s, ",")
	switch {
	case fetch == "ssl_fc_sni":
		e.Fetch = "ssl_fc_sni"
	case strings.HasPrefix(fetch, "str(") && strings.HasSuffix(fetch, ")"):
		e.Fetch, e.Value = "str", fetch[len("str("):len(fetch)-1]
		if e.Value == "" {
			return SNIExpr{}, errors.New("str() needs a value")
		}
	default:
		if _, _, err := acl.CompileFetch(s); err != nil {
			return SNIExpr{}, fmt.Errorf("sni expression %q: %w", s, err)
		}
		return SNIExpr{Fetch: "expr", Value: s}, nil
	}
	switch conv {
	case "":
	case "lower":
		e.Lower = true
	default:
		return SNIExpr{}, fmt.Errorf("%w: converter %q in sni expression %q (supported: lower)", ErrUnsupported, conv, s)
	}
	if e.Fetch == "str" && e.Lower {
		e.Value, e.Lower = strings.ToLower(e.Value), false
	}
	return e, nil
}

// Eval returns the SNI to send given the client's SNI.
func (e SNIExpr) Eval(clientSNI string) string {
	v := e.Value
	if e.Fetch == "ssl_fc_sni" {
		v = clientSNI
	}
	if e.Lower {
		v = strings.ToLower(v)
	}
	return v
}

// bindSSLKeywords and serverSSLKeywords list the TLS options with the
// number of words after the keyword.
var bindSSLKeywords = map[string]int{
	"ssl": 0, "no-tls-tickets": 0, "strict-sni": 0, "prefer-client-ciphers": 0,
	"no-sslv3": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0,
	"force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
	"crt": 1, "crt-list": 1, "alpn": 1, "ssl-min-ver": 1, "ssl-max-ver": 1, "ciphers": 1,
	"ciphersuites": 1, "curves": 1, "ca-file": 1, "verify": 1, "tls-ticket-keys": 1,
	"ca-verify-file": 1, "ecdhe": 1, "allow-0rtt": 0,
}

var serverSSLKeywords = map[string]int{
	"ssl": 0, "no-ssl": 0, "no-ssl-reuse": 0, "ssl-reuse": 0, "no-tls-tickets": 0, "tls-tickets": 0,
	"send-proxy-v2-ssl": 0, "send-proxy-v2-ssl-cn": 0,
	"no-sslv3": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0,
	"force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
	"verify": 1, "ca-file": 1, "verifyhost": 1, "sni": 1, "alpn": 1, "crt": 1,
	"ssl-min-ver": 1, "ssl-max-ver": 1, "ciphers": 1, "ciphersuites": 1, "curves": 1,
	"allow-0rtt": 0,
}

// globalSSLKeywords are handed whole to tls.Defaults.Apply.
var globalSSLKeywords = []string{
	"ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
	"ssl-default-bind-options", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
	"ssl-default-server-options", "ssl-server-verify", "tune.ssl.cachesize", "tune.ssl.lifetime",
	"crt-base", "ca-base",
}

func init() {
	for kw, n := range bindSSLKeywords {
		bindOptions[kw] = struct {
			args  int
			apply func(b *Bind, a []string) error
		}{n, func(b *Bind, a []string) error { return applyBindSSL(b, kw, a) }}
	}
	for kw, n := range serverSSLKeywords {
		serverOptions[kw] = serverOption{n, func(s *Server, a []string) error { return applyServerSSL(s, kw, a) }}
	}
	for _, kw := range globalSSLKeywords {
		globalKeywords[kw] = func(p *parser, a []string) error { return applyGlobalSSL(p, kw, a) }
	}
	finishers = append(finishers, finishSSL)
	// "npn LIST", on bind and server lines, is taken and left without
	// effect: NPN, the forerunner of ALPN that TLS 1.3 dropped, is not
	// in Go's TLS, so lb neither offers nor asks for it, and a peer that
	// only speaks NPN gets no protocol named (ALPN's still apply).
	bindOptions["npn"] = struct {
		args  int
		apply func(b *Bind, a []string) error
	}{1, func(*Bind, []string) error { return nil }}
	serverOptions["npn"] = serverOption{1, func(*Server, []string) error { return nil }}
}

func applyBindSSL(b *Bind, kw string, a []string) error {
	switch kw {
	case "ssl":
		b.SSL.Enabled = true
		return nil
	case "allow-0rtt":
		// Early data: Go's TLS takes none, so clients that would send
		// it wait the one round trip, as with a server that refuses it.
		return nil
	}
	if _, err := b.SSL.Config.Apply(append([]string{kw}, a...)); err != nil {
		return err
	}
	b.SSL.options = append(b.SSL.options, kw)
	return nil
}

func applyServerSSL(s *Server, kw string, a []string) error {
	switch kw {
	case "ssl":
		s.SSL.Enabled = true
		return nil
	case "no-ssl":
		s.SSL.Enabled = false
		return nil
	case "send-proxy-v2-ssl":
		s.SSL.SendProxyV2SSL = true
		return nil
	case "allow-0rtt":
		// Go's TLS sends no early data: requests wait the round trip.
		return nil
	case "send-proxy-v2-ssl-cn":
		s.SSL.SendProxyV2SSL, s.SSL.SendProxyV2SSLCN = true, true
		return nil
	case "sni":
		e, err := ParseSNIExpr(a[0])
		if err != nil {
			return err
		}
		s.SSL.SNI = e
		s.SSL.Config.SNI = ""
		if e.Fetch == "str" {
			// A constant is also the name verify required checks.
			s.SSL.Config.SNI = e.Value
		}
		return nil
	}
	_, err := s.SSL.Config.Apply(append([]string{kw}, a...))
	return err
}

func applyGlobalSSL(p *parser, kw string, a []string) error {
	if p.cfg.Global.SSL == nil {
		p.cfg.Global.SSL = tls.NewDefaults()
	}
	n, err := p.cfg.Global.SSL.Apply(append([]string{kw}, a...))
	if err != nil {
		return err
	}
	if n != len(a)+1 {
		return fmt.Errorf("unexpected argument '%s'", a[n-1])
	}
	return nil
}

// finishSSL builds every TLS side once the global defaults are known,
// loading the files they name.
func finishSSL(p *parser) {
	d := p.cfg.Global.SSL
	for _, px := range p.cfg.Proxies {
		for i := range px.Binds {
			bind := &px.Binds[i]
			p.pos = bind.Pos
			// 'nice' has no effect (lb serves every listener from one
			// scheduler), and TLS options on a line without 'ssl' are
			// ignored, as HAProxy ignores them, without a word.
			if !bind.SSL.Enabled {
				continue
			}
			bind.SSL.HandshakeTimeout = px.Timeouts.Client
			bind.SSL.Config.CaptureKeys = p.cfg.Global.SSLKeyFetches.Front
			in, err := tls.NewInbound(bind.SSL.Config, d)
			if err != nil {
				p.fail("bind", fmt.Sprintf("%s '%s': bind %s", px.Kind, px.Name, strings.Join(bind.Addrs, ",")), err)
				continue
			}
			bind.SSL.Inbound = in
		}
		for _, s := range px.Servers {
			if !s.SSL.Enabled && !checkConnectsSSL(px) {
				continue
			}
			p.pos = s.Pos
			s.SSL.Config.CaptureKeys = p.cfg.Global.SSLKeyFetches.Back
			out, err := tls.NewOutbound(s.SSL.Config, d)
			if err != nil {
				if errors.Is(err, tls.ErrNoCAFile) {
					err = fmt.Errorf("verify is enabled by default but no CA file specified; set 'ca-file', or 'verify none' on the server line, or 'ssl-server-verify none' in the global section: %w", err)
				}
				p.fail("server", fmt.Sprintf("%s '%s': server '%s'", px.Kind, px.Name, s.Name), err)
				continue
			}
			s.SSL.Outbound = out
		}
	}
}

// checkConnectsSSL reports whether px's checks open a TLS connection of
// their own ("tcp-check connect ssl", "http-check connect ssl"), which
// takes the TLS settings of every server line, "ssl" or not, as in
// HAProxy.
func checkConnectsSSL(px *Proxy) bool {
	for _, r := range px.TCPCheckRules {
		if r.Action == TCPCheckConnect && r.SSL {
			return true
		}
	}
	if hc := px.HTTP.Check; hc != nil {
		for _, r := range hc.Rules {
			if r.Action == TCPCheckConnect && r.Connect.SSL {
				return true
			}
		}
	}
	return false
}

// parseDHParamFile reads "ssl-dh-param-file FILE", as Mozilla's TLS
// configurations for HAProxy write it. The file must hold PEM "DH
// PARAMETERS", as HAProxy requires; since Go's TLS has no finite-field
// Diffie-Hellman key exchange, they are then left unused, with a warning.
func parseDHParamFile(p *parser, a []string) error {
	switch {
	case len(a) == 0:
		return errors.New("expects a file path as an argument")
	case len(a) > 1:
		return fmt.Errorf("cannot handle unexpected argument '%s'", a[1])
	}
	data, err := os.ReadFile(inDir(p.baseDir, a[0]))
	if err == nil {
		err = errors.New("no PEM block of DH PARAMETERS")
		for rest := data; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type == "DH PARAMETERS" {
				// PKCS #3: SEQUENCE { prime INTEGER, base INTEGER,
				// privateValueLength INTEGER OPTIONAL }.
				var dh struct {
					P, G *big.Int
					L    int `asn1:"optional"`
				}
				if _, derr := asn1.Unmarshal(blk.Bytes, &dh); derr != nil || dh.P.Cmp(big.NewInt(2)) <= 0 || dh.G.Cmp(big.NewInt(1)) <= 0 {
					err = errors.New("malformed DH PARAMETERS")
					break
				}
				err = nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("unable to load DH parameters from file <%s>: %w", a[0], err)
	}
	// lb's TLS offers no DHE cipher suites: checked, with no effect.
	return nil
}
