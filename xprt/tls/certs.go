package tls

import (
	"bufio"
	"bytes"
	"crypto"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrBadFile is wrapped by every [FileError]: a certificate, key, CA,
// crt-list or ticket-key file that could not be read or used.
var ErrBadFile = errors.New("tls: unusable file")

// FileError reports a file that could not be loaded, naming the keyword
// that referred to it, the file, and the line when the format has lines.
// The balancer adds its own config file:line in front.
type FileError struct {
	Keyword string // crt, crt-list, ca-file, tls-ticket-keys
	Path    string
	Line    int // 0 when not line-oriented
	Err     error
}

// Error names the keyword and the file, the line within the file when
// the file is a list, then what is wrong.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("tls: %s %q line %d: %v", e.Keyword, e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("tls: %s %q: %v", e.Keyword, e.Path, e.Err)
}

// Unwrap returns ErrBadFile and the underlying cause.
func (e *FileError) Unwrap() []error { return []error{ErrBadFile, e.Err} }

// CertOptions are the per-certificate SSL options a crt-list line may
// carry between brackets. Zero fields inherit from the bind line.
type CertOptions struct {
	ALPN         []string
	MinVersion   uint16
	MaxVersion   uint16
	Ciphers      []uint16
	CipherSuites []uint16
	Curves       []stdtls.CurveID
	Verify       Verify
	CAFile       string
}

func (o *CertOptions) empty() bool {
	return o == nil || (o.ALPN == nil && o.MinVersion == 0 && o.MaxVersion == 0 &&
		o.Ciphers == nil && o.CipherSuites == nil && o.Curves == nil &&
		o.Verify == VerifyDefault && o.CAFile == "")
}

// Certificate is one loaded certificate with the SNI names it serves.
type Certificate struct {
	// Cert is the chain and key, with Leaf parsed.
	Cert stdtls.Certificate
	// File is where it was loaded from.
	File string
	// Names are the lower-case SNI names it answers for: the SNI filters
	// of its crt-list line when there are any, otherwise the certificate's
	// DNS SANs and subject CN. "*.example.org" is a wildcard for one label.
	Names []string
	// Negative are names it must not answer for (crt-list "!name").
	Negative []string
	// Options are the crt-list per-certificate options, nil when none.
	Options *CertOptions
}

// LoadCertificate reads a PEM file the way HAProxy's crt does: the
// certificate chain (leaf first) and the private key concatenated in one
// file, in any order. The key may be PKCS#1, PKCS#8 or SEC 1 (EC); when
// the file holds none, "<path>.key" is read instead. An RSA key signs
// through OpenSSL's libcrypto when it can (see [UseOpenSSLSigner]).
func LoadCertificate(path string) (*Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Keyword: "crt", Path: path, Err: err}
	}
	c, err := parsePEMCertificate(path, data)
	if err != nil {
		return nil, &FileError{Keyword: "crt", Path: path, Err: err}
	}
	return c, nil
}

func parsePEMCertificate(path string, data []byte) (*Certificate, error) {
	var (
		chain  [][]byte
		key    crypto.Signer
		blocks int
	)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE":
			chain = append(chain, b.Bytes)
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			if key != nil {
				return nil, errors.New("more than one private key")
			}
			k, err := parseKey(b)
			if err != nil {
				return nil, err
			}
			key = k
		}
	}
	if blocks == 0 {
		return nil, errors.New("no PEM data")
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate in the file")
	}
	if key == nil {
		kdata, err := os.ReadFile(path + ".key")
		if err != nil {
			return nil, fmt.Errorf("no private key in the file, nor a readable %s.key", filepath.Base(path))
		}
		for rest := kdata; key == nil; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				return nil, fmt.Errorf("no private key in the file nor in %s.key", filepath.Base(path))
			}
			if strings.HasSuffix(b.Type, "PRIVATE KEY") {
				if key, err = parseKey(b); err != nil {
					return nil, fmt.Errorf("%s.key: %w", filepath.Base(path), err)
				}
			}
		}
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("first certificate does not parse: %w", err)
	}
	for i, der := range chain[1:] {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("chain certificate %d does not parse: %w", i+2, err)
		}
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("private key does not match the certificate %q", leaf.Subject.CommonName)
	}
	return &Certificate{
		Cert:  stdtls.Certificate{Certificate: chain, PrivateKey: fastSigner(key), Leaf: leaf},
		File:  path,
		Names: certNames(leaf),
	}, nil
}

func parseKey(b *pem.Block) (crypto.Signer, error) {
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		return nil, errors.New("encrypted private keys are not supported")
	}
	var (
		k   any
		err error
	)
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", strings.ToLower(b.Type), err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// certNames returns the SAN DNS names and the subject CN, lower-cased and
// deduplicated, in that order.
func certNames(leaf *x509.Certificate) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		n = normName(n)
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, n := range leaf.DNSNames {
		add(n)
	}
	add(leaf.Subject.CommonName)
	return names
}

func normName(n string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
}

// skipInDir reports files a crt directory holds next to certificates,
// which HAProxy does not load as certificates.
func skipInDir(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	for _, ext := range []string{".key", ".issuer", ".ocsp", ".sctl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// LoadCrt loads the value of a crt keyword: a PEM file, or a directory
// whose files are all loaded in alphabetical order (skipping dot files and
// the .key, .issuer, .ocsp and .sctl companions).
func LoadCrt(path string) ([]*Certificate, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{Keyword: "crt", Path: path, Err: err}
	}
	if !st.IsDir() {
		c, err := LoadCertificate(path)
		if err != nil {
			return nil, err
		}
		return []*Certificate{c}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, &FileError{Keyword: "crt", Path: path, Err: err}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	var out []*Certificate
	for _, e := range ents {
		if e.IsDir() || skipInDir(e.Name()) {
			continue
		}
		c, err := LoadCertificate(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &FileError{Keyword: "crt", Path: path, Err: errors.New("directory holds no certificate")}
	}
	return out, nil
}

// LoadCrtList loads a crt-list file. Each non-empty line not starting
// with '#' reads
//
//	<crtfile> [<ssl options>] [[!]<sni filter> ...]
//
// where the options between brackets are bind keywords that apply to this
// certificate only (alpn, ssl-min-ver, ssl-max-ver, ciphers,
// ciphersuites, curves, verify, ca-file) and the filters replace the names
// taken from the certificate; "!name" excludes a name. crtfile may be a
// directory. base, when not empty, prefixes relative paths (crt-base).
func LoadCrtList(path, base string) ([]*Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Keyword: "crt-list", Path: path, Err: err}
	}
	defer f.Close()
	var out []*Certificate
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		certs, err := parseCrtListLine(text, base)
		if err != nil {
			return nil, &FileError{Keyword: "crt-list", Path: path, Line: line, Err: err}
		}
		out = append(out, certs...)
	}
	if err := sc.Err(); err != nil {
		return nil, &FileError{Keyword: "crt-list", Path: path, Err: err}
	}
	if len(out) == 0 {
		return nil, &FileError{Keyword: "crt-list", Path: path, Err: errors.New("no certificate listed")}
	}
	return out, nil
}

func parseCrtListLine(text, base string) ([]*Certificate, error) {
	words := strings.Fields(text)
	file := words[0]
	if base != "" && !filepath.IsAbs(file) {
		file = filepath.Join(base, file)
	}
	words = words[1:]
	var opts *CertOptions
	if len(words) > 0 && strings.HasPrefix(words[0], "[") {
		var inner []string
		closed := false
		for len(words) > 0 && !closed {
			w := words[0]
			words = words[1:]
			if strings.HasSuffix(w, "]") {
				w, closed = strings.TrimSuffix(w, "]"), true
			}
			w = strings.TrimPrefix(w, "[")
			if w != "" {
				inner = append(inner, w)
			}
		}
		if !closed {
			return nil, errors.New("missing ']' after the SSL options")
		}
		opts = &CertOptions{}
		if err := opts.apply(inner); err != nil {
			return nil, err
		}
	}
	var names, neg []string
	for _, w := range words {
		if strings.HasPrefix(w, "!") {
			neg = append(neg, normName(w[1:]))
		} else {
			names = append(names, normName(w))
		}
	}
	certs, err := LoadCrt(file)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if len(names) > 0 {
			c.Names = names
		}
		c.Negative = neg
		if !opts.empty() {
			c.Options = opts
		}
	}
	return certs, nil
}

// apply parses the bracketed crt-list options.
func (o *CertOptions) apply(words []string) error {
	for len(words) > 0 {
		if len(words) < 2 {
			return fmt.Errorf("%w: crt-list option %q needs a value", ErrBadValue, words[0])
		}
		k, v := words[0], words[1]
		words = words[2:]
		var err error
		switch k {
		case "alpn":
			o.ALPN, err = ParseALPN(v)
		case "ssl-min-ver":
			o.MinVersion, err = ParseVersion(v)
		case "ssl-max-ver":
			o.MaxVersion, err = ParseVersion(v)
		case "ciphers":
			o.Ciphers, err = ParseCiphers(v)
		case "ciphersuites":
			o.CipherSuites, err = ParseCipherSuites(v)
		case "curves":
			o.Curves, err = ParseCurves(v)
		case "verify":
			o.Verify, err = ParseVerify(v)
		case "ca-file":
			o.CAFile = v
		default:
			return fmt.Errorf("%w: crt-list option %q is not supported", ErrBadValue, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// SystemCA is the ca-file value that selects the system's trust store,
// as in HAProxy.
const SystemCA = "@system-ca"

// LoadCAFile reads a ca-file: one or more PEM certificates. The value
// [SystemCA] returns the system pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	if path == SystemCA {
		p, err := x509.SystemCertPool()
		if err != nil {
			return nil, &FileError{Keyword: "ca-file", Path: path, Err: err}
		}
		return p, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Keyword: "ca-file", Path: path, Err: err}
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &FileError{Keyword: "ca-file", Path: path, Err: fmt.Errorf("certificate %d does not parse: %w", n+1, err)}
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, &FileError{Keyword: "ca-file", Path: path, Err: errors.New("no PEM data")}
		}
		return nil, &FileError{Keyword: "ca-file", Path: path, Err: errors.New("no certificate in the file")}
	}
	return pool, nil
}
