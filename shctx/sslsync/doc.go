// Package sslsync shares TLS sessions between hosts, so that a client
// whose session was made on one host of a fleet resumes it on another. It
// sends small signed UDP messages, unicast to a list of peers or to a
// multicast group (IPv4 or IPv6), the way stud's shared cache did:
//
//   - New carries a session made here, sent to every peer when the
//     [sslcache.Cache] stores it;
//   - Delete names a session that must stop resuming (expired or
//     rejected), sent when the cache deletes it;
//   - Get asks for a session the cache misses. A peer holding it answers
//     the asker with New. The lookup waits for that answer for a bounded
//     time (Config.Wait, a few milliseconds), so a session whose New was
//     lost still resumes; with waiting off, Get only warms the cache for
//     the client's next attempt.
//
// See [Decode] for the packet layout. Every message ends with a timestamp
// and an HMAC-SHA256 over everything before it under a key the fleet
// shares (read from a key file). A receiver drops, and counts, a packet
// that does not follow the layout (malformed), whose signature does not
// match (forged or altered), whose timestamp is more than Config.Window
// away from its clock or whose signature it has already seen within that
// window (replayed). Only then does a message touch the cache, and
// messages received are never announced again, so updates do not echo
// around the fleet. Hosts' clocks must agree within the window.
//
// The serialized sessions travel in clear inside the signed messages: they
// hold the secrets that resume a TLS session, so the sync traffic must stay
// on a network the fleet trusts, as with stud and HAProxy's peers.
package sslsync
