// Package sslcache is a TLS session cache for crypto/tls, kept in two
// levels: a bounded map private to the process, then a shared cache
// ([shctx.Cache]) that several processes on one host map together, and
// optionally, through a [Peers] implementation such as package sslsync,
// other hosts.
//
// # Server side
//
// crypto/tls has no server-side session-ID cache; resumption in TLS 1.2
// and TLS 1.3 goes through tickets. [Cache.Wrap] and [Cache.Unwrap] plug into
// [crypto/tls.Config.WrapSession] and UnwrapSession (see [Cache.Configure]):
// the ticket a client receives is a random 32-byte ID, the session state
// ([crypto/tls.SessionState.Bytes]) stays in the cache under that ID. The
// ID carries no secret and needs no ticket key, so any process or host that
// can see the cache can resume the session, as with HAProxy's shared SSL
// session cache keyed by 32-byte session IDs.
//
// A lookup tries the process's own level first (no lock shared with other
// processes, no copy), then the shared level, then, when peers are set,
// asks them (see [Peers.Fetch]). A session is held until its creation time
// plus the lifetime (tune.ssl.lifetime, 300 s by default). A session found
// expired, unparsable, or for another protocol version than the one being
// negotiated is deleted from both levels, and the deletion is announced to
// peers, so no process or host offers it again.
//
// # Client side
//
// [Cache.ClientSessionCache] returns a [crypto/tls.ClientSessionCache] whose
// sessions live in the shared level, so that every process dialing the
// same servers resumes the sessions any of them made. Client sessions are
// never sent to peers: a session belongs to the host that dialed.
//
// # Sizing
//
// The shared level holds Options.Size blocks of 256 bytes, one per session
// in the common case (a server session without client certificates is about
// 100 bytes), which is how tune.ssl.cachesize counts. Sessions larger than
// [MaxSessionLen] are not cached.
package sslcache
