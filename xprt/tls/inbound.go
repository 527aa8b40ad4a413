package tls

import (
	"cmp"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// BindConfig holds the TLS options of a bind line, one field per HAProxy
// keyword. Zero fields inherit from [Defaults]. Fill it by hand or word by
// word with [BindConfig.Apply], then build an [Inbound] with [NewInbound].
type BindConfig struct {
	Crt     []string // crt <file|dir>, repeatable
	CrtList []string // crt-list <file>, repeatable
	// Certificates are served after those loaded from Crt and CrtList,
	// for programs that build certificates themselves.
	Certificates []*Certificate

	ALPN         []string         // alpn h2,http/1.1
	MinVersion   uint16           // ssl-min-ver
	MaxVersion   uint16           // ssl-max-ver
	Ciphers      []uint16         // ciphers (TLS <= 1.2)
	CipherSuites []uint16         // ciphersuites (TLS 1.3, validated only)
	Curves       []stdtls.CurveID // curves
	CAFile       string           // ca-file, for client certificates
	Verify       Verify           // verify none|optional|required
	NoTLSTickets bool             // no-tls-tickets
	StrictSNI    bool             // strict-sni
	TicketKeys   string           // tls-ticket-keys <file>

	// ECDHE is "ecdhe": the one named curve for key exchange, used when
	// Curves is not set (0: none given).
	ECDHE stdtls.CurveID

	// SessionStore, when set, holds sessions for resumption in place of
	// crypto/tls's encrypted tickets (a cache shared between processes).
	SessionStore SessionStore

	// CAVerifyFile is ca-verify-file: CAs that verify client
	// certificates without being named in the certificate request.
	CAVerifyFile string

	// CaptureHello keeps each client's ClientHello message (Info's
	// ClientHello), for fetches that read what the client offered.
	CaptureHello bool

	// CaptureKeys keeps each connection's key material (Info's Keys):
	// the hellos' randoms, the TLS 1.2 session id and master secret, and
	// the TLS 1.3 traffic secrets. It costs a config clone and a copy of
	// the handshake's first bytes per connection.
	CaptureKeys bool

	// Dir, when set, is the directory relative file names are read from
	// once crt-base and ca-base are applied (HAProxy's default-path);
	// empty, they are relative to the working directory.
	Dir string

	// versionWords are the no-sslv3, no-tlsv1x and force-tlsv1x words
	// given so far, read together as HAProxy combines them.
	versionWords []string
}

// Apply parses one bind keyword with its arguments (args[0] is the
// keyword) and returns how many words it used. "ssl" is accepted and uses
// one word. Keywords that are not TLS options return ErrUnknownKeyword,
// so the caller can try its own.
func (b *BindConfig) Apply(args []string) (int, error) {
	if len(args) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrUnknownKeyword)
	}
	k := args[0]
	switch k {
	case "ssl":
		return 1, nil
	case "no-tls-tickets":
		b.NoTLSTickets = true
		return 1, nil
	case "strict-sni":
		b.StrictSNI = true
		return 1, nil
	case "prefer-client-ciphers", "no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
		"force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13":
		words := append(b.versionWords[:len(b.versionWords):len(b.versionWords)], k)
		if err := applyVersionWords(words, &b.MinVersion, &b.MaxVersion); err != nil {
			return 0, err
		}
		b.versionWords = words
		return 1, nil
	case "crt", "crt-list", "alpn", "ssl-min-ver", "ssl-max-ver", "ciphers", "ciphersuites",
		"curves", "ca-file", "ca-verify-file", "verify", "tls-ticket-keys", "ecdhe":
	default:
		return 0, fmt.Errorf("%w %q", ErrUnknownKeyword, k)
	}
	if len(args) < 2 || args[1] == "" {
		return 0, fmt.Errorf("%w: %s needs a value", ErrBadValue, k)
	}
	v := args[1]
	var err error
	switch k {
	case "crt":
		b.Crt = append(b.Crt, v)
	case "crt-list":
		b.CrtList = append(b.CrtList, v)
	case "alpn":
		b.ALPN, err = ParseALPN(v)
	case "ssl-min-ver":
		b.MinVersion, err = ParseVersion(v)
	case "ssl-max-ver":
		b.MaxVersion, err = ParseVersion(v)
	case "ciphers":
		b.Ciphers, err = ParseCiphers(v)
	case "ciphersuites":
		b.CipherSuites, err = ParseCipherSuites(v)
	case "curves":
		b.Curves, err = ParseCurves(v)
	case "ecdhe":
		var ids []stdtls.CurveID
		if ids, err = ParseCurves(v); err == nil && len(ids) != 1 {
			err = fmt.Errorf("%w: one named curve, not %q", ErrBadValue, v)
		}
		if err == nil {
			b.ECDHE = ids[0]
		}
	case "ca-file":
		b.CAFile = v
	case "ca-verify-file":
		b.CAVerifyFile = v
	case "verify":
		b.Verify, err = ParseVerify(v)
	case "tls-ticket-keys":
		b.TicketKeys = v
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	return 2, nil
}

// Inbound is a built bind-side TLS configuration: it serves accepted
// connections, picking the certificate by SNI.
type Inbound struct {
	config  *stdtls.Config
	store   *certStore
	capture bool
	keys    bool
}

// NewInbound loads the files a bind line names and builds the server
// side. d may be nil for HAProxy's defaults.
func NewInbound(b BindConfig, d *Defaults) (*Inbound, error) {
	d = orDefault(d)
	crtBase, caBase := baseIn(b.Dir, d.CrtBase), baseIn(b.Dir, d.CABase)
	var certs []*Certificate
	for _, p := range b.Crt {
		cs, err := LoadCrt(withBase(crtBase, p))
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	for _, p := range b.CrtList {
		cs, err := LoadCrtList(withBase(crtBase, p), crtBase)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	certs = append(certs, b.Certificates...)
	if len(certs) == 0 {
		return nil, errors.New("tls: bind: no certificate (crt or crt-list is required)")
	}

	base := &stdtls.Config{
		MinVersion:       pick16(b.MinVersion, d.BindOptions.MinVersion, stdtls.VersionTLS12),
		MaxVersion:       pick16(b.MaxVersion, d.BindOptions.MaxVersion, 0),
		CipherSuites:     pickList(b.Ciphers, d.BindCiphers),
		CurvePreferences: pickList(b.Curves, ecdheList(b.ECDHE), d.BindCurves),
		NextProtos:       b.ALPN,
	}
	if err := checkVersions("bind", base.MinVersion, base.MaxVersion); err != nil {
		return nil, err
	}
	if b.CAVerifyFile != "" {
		if err := setVerifyOnlyCAs(base, b.Verify, b.CAFile, b.CAVerifyFile, caBase); err != nil {
			return nil, err
		}
	} else if err := setClientAuth(base, b.Verify, b.CAFile, caBase); err != nil {
		return nil, err
	}

	store := newCertStore(certs, b.StrictSNI)
	in := &Inbound{config: base, store: store, capture: b.CaptureHello, keys: b.CaptureKeys}
	base.GetCertificate = func(hello *stdtls.ClientHelloInfo) (*stdtls.Certificate, error) {
		if o := handshakeOwner(hello); o != nil && o.picked != nil {
			return &o.picked.cert.Cert, nil
		}
		e, err := store.pick(hello)
		if err != nil {
			return nil, err
		}
		return &e.cert.Cert, nil
	}

	if err := setResumption(base, b, d); err != nil {
		return nil, err
	}

	if store.hasOpts {
		// Entries with their own crt-list options get their own config,
		// cloned before ticket keys are set so that they keep using the
		// base config's keys (crypto/tls falls back to them).
		for _, e := range allEntries(store) {
			if e.cert.Options == nil {
				continue
			}
			cfg, err := entryConfig(base, e.cert, caBase)
			if err != nil {
				return nil, err
			}
			e.config = cfg
		}
	}
	// The pick is made once the hello is read, for every handshake (a
	// resumed one too, which asks for no certificate): the conn keeps
	// the certificate it presents, for ssl_f_*, and GetCertificate
	// takes the same. A failed pick is GetCertificate's to report,
	// unless an entry's own config had to be chosen here.
	hasOpts := store.hasOpts
	base.GetConfigForClient = func(hello *stdtls.ClientHelloInfo) (*stdtls.Config, error) {
		// The hello is whole by now: a recording conn keeps it.
		if o := handshakeOwner(hello); o != nil {
			o.keepHello()
		}
		e, err := store.pick(hello)
		if err != nil {
			if hasOpts {
				return nil, err
			}
			return nil, nil
		}
		o := handshakeOwner(hello)
		if o == nil {
			return e.config, nil
		}
		o.picked, o.local = e, e.cert.Cert.Leaf
		if o.keys != nil {
			return o.serverKeysConfig(cmp.Or(e.config, base), base), nil
		}
		return e.config, nil
	}

	if b.TicketKeys != "" {
		keys, err := LoadTicketKeys(withBase(crtBase, b.TicketKeys))
		if err != nil {
			return nil, err
		}
		base.SetSessionTicketKeys(keys)
	}
	return in, nil
}

func allEntries(s *certStore) []*entry {
	seen := map[*entry]bool{}
	var out []*entry
	add := func(l []*entry) {
		for _, e := range l {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	add(s.defaults)
	for _, l := range s.exact {
		add(l)
	}
	for _, l := range s.wildcard {
		add(l)
	}
	return out
}

// entryConfig derives the config for a crt-list line with options;
// caBase is what a relative ca-file is taken from.
func entryConfig(base *stdtls.Config, c *Certificate, caBase string) (*stdtls.Config, error) {
	o := c.Options
	cfg := base.Clone()
	cfg.GetCertificate = nil
	cfg.GetConfigForClient = nil
	cfg.Certificates = []stdtls.Certificate{c.Cert}
	if o.ALPN != nil {
		cfg.NextProtos = o.ALPN
	}
	if o.MinVersion != 0 {
		cfg.MinVersion = o.MinVersion
	}
	if o.MaxVersion != 0 {
		cfg.MaxVersion = o.MaxVersion
	}
	if o.Ciphers != nil {
		cfg.CipherSuites = o.Ciphers
	}
	if o.Curves != nil {
		cfg.CurvePreferences = o.Curves
	}
	if err := checkVersions("crt-list "+c.File, cfg.MinVersion, cfg.MaxVersion); err != nil {
		return nil, err
	}
	if o.Verify != VerifyDefault || o.CAFile != "" {
		v := o.Verify
		if v == VerifyDefault {
			v = clientAuthVerify(cfg.ClientAuth)
		}
		if err := setClientAuth(cfg, v, o.CAFile, caBase); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func clientAuthVerify(a stdtls.ClientAuthType) Verify {
	switch a {
	case stdtls.VerifyClientCertIfGiven:
		return VerifyOptional
	case stdtls.RequireAndVerifyClientCert:
		return VerifyRequired
	}
	return VerifyNone
}

// setClientAuth applies verify and ca-file for client certificates.
func setClientAuth(cfg *stdtls.Config, v Verify, caFile, caBase string) error {
	switch v {
	case VerifyDefault, VerifyNone:
		cfg.ClientAuth = stdtls.NoClientCert
		return nil
	case VerifyOptional:
		cfg.ClientAuth = stdtls.VerifyClientCertIfGiven
	case VerifyRequired:
		cfg.ClientAuth = stdtls.RequireAndVerifyClientCert
	}
	if caFile == "" {
		if cfg.ClientCAs != nil {
			return nil
		}
		return fmt.Errorf("tls: bind: verify %s needs a ca-file to check client certificates against", v)
	}
	pool, err := LoadCAFile(withBase(caBase, caFile))
	if err != nil {
		return err
	}
	cfg.ClientCAs = pool
	return nil
}

// setResumption chooses how sessions resume: crypto/tls tickets by
// default, a session store when one is given or when no-tls-tickets asks
// for state kept on the server, and the lifetime limit on top.
func setResumption(base *stdtls.Config, b BindConfig, d *Defaults) error {
	var store SessionStore
	switch {
	case b.SessionStore != nil:
		store = b.SessionStore
	case b.NoTLSTickets || d.BindOptions.NoTLSTickets:
		if d.CacheSize <= 0 {
			base.SessionTicketsDisabled = true
			return nil
		}
		store = CacheStore(NewMemoryCache(d.CacheSize))
	case d.Lifetime > 0:
		store = ticketStore{base}
	default:
		return nil
	}
	base.WrapSession, base.UnwrapSession = withLifetime(store, d.Lifetime, time.Now)
	return nil
}

// Config returns the crypto/tls config the Inbound serves with. It must
// not be modified.
func (in *Inbound) Config() *stdtls.Config { return in.config }

// Server wraps an accepted connection. The handshake runs on the first
// Read or Write, or on [Conn.Handshake].
func (in *Inbound) Server(c net.Conn) *Conn {
	if in.capture || in.keys {
		rec := &helloRecorder{Conn: c, tapOut: in.keys}
		tc := &Conn{tc: stdtls.Server(rec, in.config), rec: rec, keepHelloMsg: in.capture}
		if in.keys {
			tc.keys = new(xprt.TLSKeys)
		}
		return tc
	}
	return &Conn{tc: stdtls.Server(c, in.config)}
}

// SetTicketKeys replaces the ticket keys (the first encrypts, all
// decrypt), as when a tls-ticket-keys file is reloaded.
func (in *Inbound) SetTicketKeys(keys [][32]byte) { in.config.SetSessionTicketKeys(keys) }

func pick16(vals ...uint16) uint16 {
	for _, v := range vals {
		if v != 0 {
			return v
		}
	}
	return 0
}

func pickList[T any](lists ...[]T) []T {
	for _, l := range lists {
		if l != nil {
			return l
		}
	}
	return nil
}

// ecdheList is the curve list of an ecdhe keyword, nil without one.
func ecdheList(id stdtls.CurveID) []stdtls.CurveID {
	if id == 0 {
		return nil
	}
	return []stdtls.CurveID{id}
}

// baseIn is the directory a relative name is read from, given the
// configuration's directory dir (default-path) and a crt-base or ca-base:
// the base taken from dir when both are set, either when one is.
func baseIn(dir, base string) string {
	if base == "" {
		return dir
	}
	return withBase(dir, base)
}

func withBase(base, p string) string {
	if base == "" || p == "" || filepath.IsAbs(p) || p == SystemCA {
		return p
	}
	return filepath.Join(base, p)
}

func checkVersions(where string, min, max uint16) error {
	if min == versionSSL30 || max == versionSSL30 {
		return fmt.Errorf("tls: %s: SSLv3 is not implemented by crypto/tls", where)
	}
	if max != 0 && min > max {
		return fmt.Errorf("tls: %s: ssl-min-ver %s is above ssl-max-ver %s", where, VersionName(min), VersionName(max))
	}
	return nil
}
