package config

import (
	"fmt"
	"strings"
)

// The server option "proxy-v2-options OPT[,OPT...]": what the server's
// PROXY v2 header tells beyond the addresses, when send-proxy-v2 (or
// send-proxy-v2-ssl) sends one.

// PPv2Options are what proxy-v2-options adds to a v2 PROXY header.
type PPv2Options struct {
	// SSL adds the SSL TLV ("ssl"), CertCN its client certificate CN
	// ("cert-cn"), SSLCipher its cipher ("ssl-cipher").
	SSL, CertCN, SSLCipher bool
	// Authority adds the AUTHORITY TLV: the one the client's own PROXY
	// header gave, else the name it asked for over TLS ("authority").
	Authority bool
	// CRC32C adds a checksum of the header ("crc32c").
	CRC32C bool
	// UniqueID adds the stream's unique ID, from unique-id-format
	// ("unique-id").
	UniqueID bool
}

func init() {
	serverOptions["proxy-v2-options"] = serverOption{1, func(s *Server, a []string) error {
		for _, o := range strings.Split(a[0], ",") {
			switch o {
			case "ssl":
				s.PPv2.SSL = true
			case "cert-cn":
				s.PPv2.SSL, s.PPv2.CertCN = true, true
			case "ssl-cipher":
				s.PPv2.SSL, s.PPv2.SSLCipher = true, true
			case "authority":
				s.PPv2.Authority = true
			case "crc32c":
				s.PPv2.CRC32C = true
			case "unique-id":
				s.PPv2.UniqueID = true
			case "cert-sig", "cert-key":
				return fmt.Errorf("'%s' : proxy v2 option not supported: lb does not keep the certificate its TLS side presented", o)
			default:
				return fmt.Errorf("'%s' : proxy v2 option not implemented", o)
			}
		}
		return nil
	}}
}
