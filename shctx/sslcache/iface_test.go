package sslcache_test

import (
	"crypto/tls"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// The cache plugs into the TLS transport without either package
// importing the other.
var (
	_ ptls.SessionStore      = (*sslcache.Cache)(nil)
	_ ptls.SessionCache      = (*sslcache.Cache)(nil)
	_ tls.ClientSessionCache = (*sslcache.ClientCache)(nil)
)
