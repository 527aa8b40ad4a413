package tls

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// ErrNoCertificate is returned by the handshake of a strict-sni listener
// when no certificate matches the client's SNI (or the client sent none).
var ErrNoCertificate = errors.New("tls: no certificate for SNI")

// entry is a loaded certificate as the selector sees it.
type entry struct {
	cert *Certificate
	// config serves this certificate when its crt-list line carries its
	// own options; nil otherwise.
	config *stdtls.Config
	neg    map[string]bool
	ecdsa  bool
}

// certStore picks a certificate for a ClientHello, the way HAProxy does:
// exact names, then wildcards, then the first certificate loaded.
type certStore struct {
	exact    map[string][]*entry
	wildcard map[string][]*entry // keyed by the name without its first label
	defaults []*entry
	strict   bool
	hasOpts  bool
}

func newCertStore(certs []*Certificate, strict bool) *certStore {
	s := &certStore{exact: map[string][]*entry{}, wildcard: map[string][]*entry{}, strict: strict}
	var entries []*entry
	for _, c := range certs {
		e := &entry{cert: c, neg: map[string]bool{}}
		switch c.Cert.PrivateKey.(type) {
		case *ecdsa.PrivateKey, ed25519.PrivateKey:
			e.ecdsa = true
		}
		for _, n := range c.Negative {
			e.neg[n] = true
		}
		if c.Options != nil {
			s.hasOpts = true
		}
		entries = append(entries, e)
		for _, n := range c.Names {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				s.wildcard[rest] = appendPreferEC(s.wildcard[rest], e)
			} else {
				s.exact[n] = appendPreferEC(s.exact[n], e)
			}
		}
	}
	if len(entries) > 0 {
		// The first certificate is the default; certificates with the same
		// names (an ECDSA and an RSA one) share that role so that a client
		// without SNI still gets the key type it supports.
		first := entries[0]
		for _, e := range entries {
			if sameNames(e.cert.Names, first.cert.Names) {
				s.defaults = appendPreferEC(s.defaults, e)
			}
		}
	}
	return s
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// appendPreferEC keeps ECDSA certificates ahead of RSA ones so that the
// cheaper signature wins whenever the client supports it.
func appendPreferEC(list []*entry, e *entry) []*entry {
	if !e.ecdsa {
		return append(list, e)
	}
	i := 0
	for i < len(list) && list[i].ecdsa {
		i++
	}
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = e
	return list
}

// pick chooses the certificate for hello.
func (s *certStore) pick(hello *stdtls.ClientHelloInfo) (*entry, error) {
	name := normName(hello.ServerName)
	if name != "" {
		if e := choose(s.exact[name], name, hello); e != nil {
			return e, nil
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if e := choose(s.wildcard[name[i+1:]], name, hello); e != nil {
				return e, nil
			}
		}
	}
	if s.strict {
		return nil, fmt.Errorf("%w %q (strict-sni)", ErrNoCertificate, hello.ServerName)
	}
	if e := choose(s.defaults, "", hello); e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("%w %q: no certificate loaded", ErrNoCertificate, hello.ServerName)
}

// choose returns the first candidate not excluded for name whose key the
// client can use, or the first one not excluded when it supports none
// (the handshake then fails with the client's own complaint).
func choose(cands []*entry, name string, hello *stdtls.ClientHelloInfo) *entry {
	var first *entry
	// The name has already matched; hide it so SupportsCertificate judges
	// only versions, signature schemes and curves (crt-list filters may
	// name hosts the certificate itself does not list).
	h := *hello
	h.ServerName = ""
	for _, e := range cands {
		if name != "" && e.neg[name] {
			continue
		}
		if first == nil {
			first = e
		}
		if len(cands) == 1 || h.SupportsCertificate(&e.cert.Cert) == nil {
			return e
		}
	}
	return first
}
