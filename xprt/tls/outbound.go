package tls

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// ServerConfig holds the TLS options of a server line, one field per
// HAProxy keyword. Zero fields inherit from [Defaults]. Fill it by hand or
// word by word with [ServerConfig.Apply], then build an [Outbound] with
// [NewOutbound].
type ServerConfig struct {
	Verify       Verify           // verify none|required (default required)
	CAFile       string           // ca-file, to check the server's chain
	VerifyHost   string           // verifyhost: name to check instead of SNI
	SNI          string           // sni: the fixed name to send
	ALPN         []string         // alpn
	Crt          string           // crt: client certificate PEM
	NoSSLReuse   bool             // no-ssl-reuse
	NoTLSTickets bool             // no-tls-tickets
	MinVersion   uint16           // ssl-min-ver
	MaxVersion   uint16           // ssl-max-ver
	Ciphers      []uint16         // ciphers (TLS <= 1.2)
	CipherSuites []uint16         // ciphersuites (TLS 1.3, validated only)
	Curves       []stdtls.CurveID // curves

	// CaptureKeys keeps each connection's key material (Info's Keys),
	// as BindConfig.CaptureKeys does on the accepting side.
	CaptureKeys bool

	// Dir, when set, is the directory a relative ca-file is read from
	// once ca-base is applied, as BindConfig.Dir. crt stays relative to
	// the working directory: HAProxy reads a server's certificate once
	// its configuration is read, when default-path no longer applies.
	Dir string

	// versionWords are the no-sslv3, no-tlsv1x and force-tlsv1x words
	// given so far, read together as HAProxy combines them.
	versionWords []string
}

// Apply parses one server keyword with its arguments (args[0] is the
// keyword) and returns how many words it used. "ssl" is accepted and uses
// one word. Keywords that are not TLS options return ErrUnknownKeyword.
//
// HAProxy's sni takes a sample expression; Apply keeps the text as a
// fixed name, and a caller that evaluates expressions passes the result
// to [Outbound.ClientSNI] per connection instead.
func (s *ServerConfig) Apply(args []string) (int, error) {
	if len(args) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrUnknownKeyword)
	}
	k := args[0]
	switch k {
	case "ssl":
		return 1, nil
	case "no-ssl-reuse":
		s.NoSSLReuse = true
		return 1, nil
	case "ssl-reuse":
		s.NoSSLReuse = false
		return 1, nil
	case "no-tls-tickets":
		s.NoTLSTickets = true
		return 1, nil
	case "tls-tickets":
		s.NoTLSTickets = false
		return 1, nil
	case "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
		"force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13":
		words := append(s.versionWords[:len(s.versionWords):len(s.versionWords)], k)
		if err := applyVersionWords(words, &s.MinVersion, &s.MaxVersion); err != nil {
			return 0, err
		}
		s.versionWords = words
		return 1, nil
	case "verify", "ca-file", "verifyhost", "sni", "alpn", "crt", "ssl-min-ver", "ssl-max-ver",
		"ciphers", "ciphersuites", "curves":
	default:
		return 0, fmt.Errorf("%w %q", ErrUnknownKeyword, k)
	}
	if len(args) < 2 || args[1] == "" {
		return 0, fmt.Errorf("%w: %s needs a value", ErrBadValue, k)
	}
	v := args[1]
	var err error
	switch k {
	case "verify":
		s.Verify, err = ParseVerify(v)
		if err == nil && s.Verify == VerifyOptional {
			err = fmt.Errorf("%w: server verify takes none or required", ErrBadValue)
		}
	case "ca-file":
		s.CAFile = v
	case "verifyhost":
		s.VerifyHost = v
	case "sni":
		s.SNI = v
	case "alpn":
		s.ALPN, err = ParseALPN(v)
	case "crt":
		s.Crt = v
	case "ssl-min-ver":
		s.MinVersion, err = ParseVersion(v)
	case "ssl-max-ver":
		s.MaxVersion, err = ParseVersion(v)
	case "ciphers":
		s.Ciphers, err = ParseCiphers(v)
	case "ciphersuites":
		s.CipherSuites, err = ParseCipherSuites(v)
	case "curves":
		s.Curves, err = ParseCurves(v)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	return 2, nil
}

// ErrNoCAFile is returned by [NewOutbound] when server certificates must
// be verified but no ca-file says against what.
var ErrNoCAFile = errors.New("tls: server: verify required needs a ca-file (or set verify none)")

// Outbound is a built server-side TLS configuration: it wraps connections
// dialed to one server and, unless no-ssl-reuse, resumes their sessions.
type Outbound struct {
	config *stdtls.Config
	verify bool
	keys   bool
}

// NewOutbound loads the files a server line names and builds the client
// side. d may be nil for HAProxy's defaults.
//
// As in HAProxy, verify required checks the chain against ca-file and the
// name against verifyhost, or else the SNI; with neither, only the chain
// is checked.
func NewOutbound(s ServerConfig, d *Defaults) (*Outbound, error) {
	d = orDefault(d)
	cfg := &stdtls.Config{
		ServerName:             s.SNI,
		NextProtos:             s.ALPN,
		MinVersion:             pick16(s.MinVersion, d.ServerOptions.MinVersion),
		MaxVersion:             pick16(s.MaxVersion, d.ServerOptions.MaxVersion),
		CipherSuites:           pickList(s.Ciphers, d.ServerCiphers),
		CurvePreferences:       s.Curves,
		SessionTicketsDisabled: s.NoTLSTickets || d.ServerOptions.NoTLSTickets,
		// The check is done in VerifyConnection, which can verify the
		// chain without a name when HAProxy would.
		InsecureSkipVerify: true,
	}
	if err := checkVersions("server", cfg.MinVersion, cfg.MaxVersion); err != nil {
		return nil, err
	}
	if !s.NoSSLReuse && !cfg.SessionTicketsDisabled {
		cfg.ClientSessionCache = stdtls.NewLRUClientSessionCache(0)
	}
	if s.Crt != "" {
		c, err := LoadCertificate(withBase(d.CrtBase, s.Crt))
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []stdtls.Certificate{c.Cert}
	}
	v := s.Verify
	if v == VerifyDefault {
		v = d.ServerVerify
	}
	if v == VerifyDefault {
		v = VerifyRequired
	}
	o := &Outbound{config: cfg, verify: v == VerifyRequired, keys: s.CaptureKeys}
	if !o.verify {
		return o, nil
	}
	if s.CAFile == "" {
		return nil, ErrNoCAFile
	}
	roots, err := LoadCAFile(withBase(baseIn(s.Dir, d.CABase), s.CAFile))
	if err != nil {
		return nil, err
	}
	host := s.VerifyHost
	cfg.VerifyConnection = func(cs stdtls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: server sent no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: x509.NewCertPool(),
			DNSName:       host,
		}
		if opts.DNSName == "" {
			opts.DNSName = cs.ServerName
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("tls: server certificate: %w", err)
		}
		return nil
	}
	return o, nil
}

// Config returns the crypto/tls config the Outbound dials with. It must
// not be modified.
func (o *Outbound) Config() *stdtls.Config { return o.config }

// Client wraps a dialed connection, sending the configured SNI.
func (o *Outbound) Client(c net.Conn) *Conn {
	if o.keys {
		return o.keysClient(c, o.config.Clone())
	}
	return &Conn{tc: stdtls.Client(c, o.config), client: true, verified: o.verify}
}

// keysClient wraps c with cfg, a clone of the config for this conn only,
// keeping the conn's key material.
func (o *Outbound) keysClient(c net.Conn, cfg *stdtls.Config) *Conn {
	rec := &helloRecorder{Conn: c, tapOut: true}
	tc := &Conn{client: true, verified: o.verify, rec: rec, keys: new(xprt.TLSKeys)}
	cfg.KeyLogWriter = keyLog{tc.keys}
	if cfg.ClientSessionCache != nil {
		cfg.ClientSessionCache = sessionTap{cfg.ClientSessionCache, tc}
	}
	tc.tc = stdtls.Client(rec, cfg)
	return tc
}

// WithALPN returns an Outbound like o that offers protos in its
// handshakes instead of o's ALPN list (HAProxy's check-alpn); sessions
// are resumed from the same cache.
func (o *Outbound) WithALPN(protos []string) *Outbound {
	cfg := o.config.Clone()
	cfg.NextProtos = protos
	return &Outbound{config: cfg, verify: o.verify, keys: o.keys}
}

// ClientSNI wraps a dialed connection and sends sni instead of the
// configured name (the result of an sni expression, a request's Host).
// Sessions stay cached per name.
func (o *Outbound) ClientSNI(c net.Conn, sni string) *Conn {
	if sni == o.config.ServerName {
		return o.Client(c)
	}
	cfg := o.config.Clone()
	cfg.ServerName = sni
	if o.keys {
		return o.keysClient(c, cfg)
	}
	return &Conn{tc: stdtls.Client(c, cfg), client: true, verified: o.verify}
}
