package config

import (
	"errors"
	"slices"
)

// Global TLS keywords of haproxy that tune its OpenSSL use: lb reads and
// checks them as haproxy does, and they have no effect on Go's TLS.
func init() {
	noEffect := func(*parser, []string) error { return nil }
	// Asynchronous OpenSSL engines; haproxy ignores any argument.
	globalKeywords["ssl-mode-async"] = noEffect
	// Certificate chains: lb sends a crt file's chain as it is.
	globalKeywords["ssl-skip-self-issued-ca"] = noEffect
	// Extra files next to a crt: lb loads none.
	globalKeywords["ssl-load-extra-del-ext"] = noEffect
	globalKeywords["ssl-load-extra-files"] = func(_ *parser, a []string) error {
		usage := errors.New("'ssl-load-extra-files' expects one or multiple arguments (none, all, bundle, sctl, ocsp, issuer)")
		if len(a) == 0 {
			return usage
		}
		for _, w := range a {
			if !slices.Contains([]string{"none", "all", "bundle", "sctl", "ocsp", "issuer", "key"}, w) {
				return usage
			}
			if (w == "none" || w == "all") && len(a) > 1 {
				return errors.New("'ssl-load-extra-files' 'none' and 'all' can be only used alone")
			}
		}
		return nil
	}
}
