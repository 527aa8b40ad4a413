package tls

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrUnknownKeyword is returned by the Apply methods for a keyword that
// is not a TLS keyword, so a config parser can try its own.
var ErrUnknownKeyword = errors.New("tls: unknown keyword")

// Options are the protocol options that ssl-default-bind-options and
// ssl-default-server-options carry, and that bind and server lines may
// set one by one.
type Options struct {
	MinVersion   uint16 // ssl-min-ver; 0 inherits
	MaxVersion   uint16 // ssl-max-ver; 0 inherits
	NoTLSTickets bool   // no-tls-tickets
}

// ParseOptions parses the words of ssl-default-bind-options or
// ssl-default-server-options: ssl-min-ver V, ssl-max-ver V,
// no-tls-tickets, the older no-sslv3 / no-tlsv10 / no-tlsv11 / no-tlsv12 /
// no-tlsv13 and force-tlsv1x forms (turned into a version range), and
// prefer-client-ciphers (accepted; crypto/tls always picks the suite
// itself).
func ParseOptions(words []string) (Options, error) {
	var o Options
	disabled := map[uint16]bool{}
	var forced uint16
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "ssl-min-ver", "ssl-max-ver":
			if i+1 >= len(words) {
				return o, fmt.Errorf("%w: %s needs a version", ErrBadValue, w)
			}
			v, err := ParseVersion(words[i+1])
			if err != nil {
				return o, err
			}
			if w == "ssl-min-ver" {
				o.MinVersion = v
			} else {
				o.MaxVersion = v
			}
			i++
		case "no-tls-tickets":
			o.NoTLSTickets = true
		case "prefer-client-ciphers":
		case "no-sslv3":
			disabled[versionSSL30] = true
		case "no-tlsv10":
			disabled[stdtls.VersionTLS10] = true
		case "no-tlsv11":
			disabled[stdtls.VersionTLS11] = true
		case "no-tlsv12":
			disabled[stdtls.VersionTLS12] = true
		case "no-tlsv13":
			disabled[stdtls.VersionTLS13] = true
		case "force-sslv3":
			forced = versionSSL30
		case "force-tlsv10":
			forced = stdtls.VersionTLS10
		case "force-tlsv11":
			forced = stdtls.VersionTLS11
		case "force-tlsv12":
			forced = stdtls.VersionTLS12
		case "force-tlsv13":
			forced = stdtls.VersionTLS13
		default:
			return o, fmt.Errorf("%w: unknown SSL option %q", ErrBadValue, w)
		}
	}
	if forced != 0 {
		o.MinVersion, o.MaxVersion = forced, forced
	}
	if len(disabled) > 0 {
		// As HAProxy does, the versions left are those the floor (the
		// ssl-min-ver given, TLSv1.2 by default) and the ceiling allow
		// and no no-* word disables; a hole among them is spanned.
		floor := o.MinVersion
		if floor == 0 {
			floor = stdtls.VersionTLS12
		}
		var enabled []uint16
		for _, n := range versionNames {
			if !disabled[n.v] && n.v != versionSSL30 && n.v >= floor && (o.MaxVersion == 0 || n.v <= o.MaxVersion) {
				enabled = append(enabled, n.v)
			}
		}
		if len(enabled) == 0 {
			return o, fmt.Errorf("%w: every protocol version is disabled", ErrBadValue)
		}
		// The TLSv1.2 floor binds have by default needs no recording.
		if o.MinVersion == 0 && enabled[0] > stdtls.VersionTLS12 {
			o.MinVersion = enabled[0]
		}
		if o.MaxVersion == 0 && enabled[len(enabled)-1] != stdtls.VersionTLS13 {
			o.MaxVersion = enabled[len(enabled)-1]
		}
	}
	return o, nil
}

// Defaults are the global-section settings bind and server lines inherit.
// A nil *Defaults means [NewDefaults]; a zero field means what its comment
// says, not HAProxy's default.
type Defaults struct {
	BindCiphers      []uint16         // ssl-default-bind-ciphers
	BindCipherSuites []uint16         // ssl-default-bind-ciphersuites (validated only)
	BindCurves       []stdtls.CurveID // ssl-default-bind-curves
	BindOptions      Options          // ssl-default-bind-options

	ServerCiphers      []uint16 // ssl-default-server-ciphers
	ServerCipherSuites []uint16 // ssl-default-server-ciphersuites (validated only)
	ServerOptions      Options  // ssl-default-server-options
	// ServerVerify is ssl-server-verify: the verify mode of server lines
	// that set none (VerifyDefault means required).
	ServerVerify Verify

	// CacheSize is tune.ssl.cachesize: how many sessions the built-in
	// server-side cache holds when stateful resumption is used
	// (no-tls-tickets). 0 disables that cache.
	CacheSize int
	// Lifetime is tune.ssl.lifetime: how long after issue a session may
	// be resumed. 0 leaves crypto/tls's own limit (7 days).
	Lifetime time.Duration

	// CrtBase and CABase are crt-base and ca-base: directories that
	// relative crt, crt-list and ca-file paths are taken from.
	CrtBase string
	CABase  string
}

// NewDefaults returns HAProxy's defaults: a 20000-session cache, a 300 s
// session lifetime, TLSv1.2 as the lowest bind version, and server
// certificates verified.
func NewDefaults() *Defaults {
	return &Defaults{
		BindOptions:  Options{MinVersion: stdtls.VersionTLS12},
		ServerVerify: VerifyRequired,
		CacheSize:    20000,
		Lifetime:     300 * time.Second,
	}
}

// Apply parses one global-section keyword with its arguments (args[0] is
// the keyword) and returns how many words it used. Keywords that are not
// TLS settings return ErrUnknownKeyword.
func (d *Defaults) Apply(args []string) (int, error) {
	if len(args) == 0 {
		return 0, fmt.Errorf("%w: empty line", ErrUnknownKeyword)
	}
	k := args[0]
	need := func() (string, error) {
		if len(args) < 2 || args[1] == "" {
			return "", fmt.Errorf("%w: %s needs a value", ErrBadValue, k)
		}
		return args[1], nil
	}
	var err error
	switch k {
	case "ssl-default-bind-options", "ssl-default-server-options":
		o, err := ParseOptions(args[1:])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", k, err)
		}
		if k == "ssl-default-bind-options" {
			d.BindOptions = o
		} else {
			d.ServerOptions = o
		}
		return len(args), nil
	case "ssl-default-bind-ciphers", "ssl-default-server-ciphers",
		"ssl-default-bind-ciphersuites", "ssl-default-server-ciphersuites",
		"ssl-default-bind-curves", "ssl-server-verify", "tune.ssl.cachesize",
		"tune.ssl.lifetime", "crt-base", "ca-base":
	default:
		return 0, fmt.Errorf("%w %q", ErrUnknownKeyword, k)
	}
	v, err := need()
	if err != nil {
		return 0, err
	}
	switch k {
	case "ssl-default-bind-ciphers":
		d.BindCiphers, err = ParseCiphers(v)
	case "ssl-default-server-ciphers":
		d.ServerCiphers, err = ParseCiphers(v)
	case "ssl-default-bind-ciphersuites":
		d.BindCipherSuites, err = ParseCipherSuites(v)
	case "ssl-default-server-ciphersuites":
		d.ServerCipherSuites, err = ParseCipherSuites(v)
	case "ssl-default-bind-curves":
		d.BindCurves, err = ParseCurves(v)
	case "ssl-server-verify":
		d.ServerVerify, err = ParseVerify(v)
		if err == nil && d.ServerVerify == VerifyOptional {
			err = fmt.Errorf("%w: ssl-server-verify takes none or required", ErrBadValue)
		}
	case "tune.ssl.cachesize":
		d.CacheSize, err = strconv.Atoi(v)
		if err == nil && d.CacheSize < 0 {
			err = fmt.Errorf("%w: negative size %d", ErrBadValue, d.CacheSize)
		}
	case "tune.ssl.lifetime":
		d.Lifetime, err = ParseLifetime(v)
	case "crt-base":
		d.CrtBase = v
	case "ca-base":
		d.CABase = v
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	return 2, nil
}

// ParseLifetime parses a tune.ssl.lifetime value: a number of seconds, or
// a number with one of HAProxy's units (us, ms, s, m, h, d).
func ParseLifetime(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := cutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseUint(num, 10, 31)
			if err == nil {
				return time.Duration(n) * u.unit, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: bad time %q", ErrBadValue, s)
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return "", false
}

// orDefault returns d, or HAProxy's defaults when d is nil.
func orDefault(d *Defaults) *Defaults {
	if d == nil {
		return NewDefaults()
	}
	return d
}
