package tls_test

import (
	"fmt"
	"strings"

	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// Keyword values parse into crypto/tls settings, and negotiated values
// print the way HAProxy's ssl_fc_protocol and ssl_fc_cipher print them.
func ExampleParseCiphers() {
	ids, err := ptls.ParseCiphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:!aNULL")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range ids {
		fmt.Println(ptls.CipherName(id))
	}
	v, _ := ptls.ParseVersion("TLSv1.3")
	fmt.Println(ptls.VersionName(v))

	_, err = ptls.ParseCiphers("TYPO:!ALL")
	fmt.Println(err)
	// Output:
	// ECDHE-ECDSA-AES128-GCM-SHA256
	// ECDHE-RSA-AES128-GCM-SHA256
	// TLSv1.3
	// tls: invalid value: unable to set SSL cipher list to 'TYPO:!ALL' (no cipher match)
}

// A bind line's TLS keywords fill a BindConfig word by word; the caller
// handles the keywords that are not TLS ones.
func ExampleBindConfig_Apply() {
	words := strings.Fields("ssl crt /etc/lb/certs/ alpn h2,http/1.1 ssl-min-ver TLSv1.2 strict-sni accept-proxy")
	var b ptls.BindConfig
	for len(words) > 0 {
		n, err := b.Apply(words)
		if err != nil {
			fmt.Println("not a TLS keyword:", words[0])
			n = 1
		}
		words = words[n:]
	}
	fmt.Println(b.Crt, b.ALPN, ptls.VersionName(b.MinVersion), b.StrictSNI)
	// Output:
	// not a TLS keyword: accept-proxy
	// [/etc/lb/certs/] [h2 http/1.1] TLSv1.2 true
}
