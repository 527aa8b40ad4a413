package tls

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

// setVerifyOnlyCAs applies verify with ca-file and ca-verify-file, as
// HAProxy's bind lines take them: client certificates are verified
// against both files' CAs, while the certificate request names only
// ca-file's (typically intermediates, ca-verify-file holding the roots
// that end their chains).
func setVerifyOnlyCAs(cfg *stdtls.Config, v Verify, caFile, caVerifyFile, caBase string) error {
	var named *x509.CertPool
	if caFile != "" {
		var err error
		if named, err = LoadCAFile(withBase(caBase, caFile)); err != nil {
			return err
		}
	}
	if _, err := LoadCAFile(withBase(caBase, caVerifyFile)); err != nil {
		return err // checks the file holds certificates
	}
	data, err := os.ReadFile(withBase(caBase, caVerifyFile))
	if err != nil {
		return &FileError{Keyword: "ca-verify-file", Path: caVerifyFile, Err: err}
	}
	roots := x509.NewCertPool()
	if named != nil {
		roots = named.Clone()
	}
	roots.AppendCertsFromPEM(data)
	cfg.ClientCAs = named
	switch v {
	case VerifyDefault, VerifyNone:
		cfg.ClientAuth = stdtls.NoClientCert
		return nil
	case VerifyOptional:
		cfg.ClientAuth = stdtls.RequestClientCert
	case VerifyRequired:
		cfg.ClientAuth = stdtls.RequireAnyClientCert
	}
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return nil // optional, and none was sent
		}
		var chain []*x509.Certificate
		for _, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return errors.New("tls: failed to parse client certificate: " + err.Error())
			}
			chain = append(chain, c)
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	return nil
}
