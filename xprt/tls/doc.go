// Package tls is the TLS transport of proxyblocks, on crypto/tls, for both
// sides of a proxy: [Inbound] serves accepted connections (a bind line
// with ssl) and [Outbound] secures dialed ones (a server line with ssl).
// Both hand out [*Conn], which satisfies [xprt.Transport]; the package
// also registers itself as the "tls" transport of [xprt.New].
//
// Configuration mirrors HAProxy's keywords. [BindConfig] and
// [ServerConfig] have one field per keyword and an Apply method that
// parses the keyword's words, and [Defaults] carries the global
// ssl-default-* and tune.ssl.* settings that lines inherit. Each value has
// its own parser ([ParseVersion], [ParseCiphers], [ParseCurves],
// [ParseALPN], [ParseVerify], [ParseOptions]) and files have loaders
// ([LoadCrt], [LoadCrtList], [LoadCAFile], [LoadTicketKeys]) whose errors
// name the file and what is wrong with it ([FileError]).
//
// Certificates are chosen by SNI as HAProxy chooses them: exact names,
// then wildcards, then the first certificate loaded, unless strict-sni
// refuses the handshake. Where an ECDSA and an RSA certificate serve the
// same name, the ECDSA one goes to clients that support it.
//
// Sessions resume out of the box with crypto/tls tickets, under keys from
// a tls-ticket-keys file when one is given so that a fleet shares them.
// A [SessionStore] replaces tickets with server-side state, which is what
// no-tls-tickets selects, backed by an in-process cache by default.
//
// A connection keeps its key material when [BindConfig.CaptureKeys] or
// [ServerConfig.CaptureKeys] asks (Info's Keys): the hellos' randoms, the
// TLS 1.2 session id and master secret, and the TLS 1.3 traffic secrets,
// what an NSS key log line carries. The secrets come from a key log
// crypto/tls writes into the connection, the randoms and session id from
// a copy of the handshake's first bytes; connections that do not ask pay
// nothing. crypto/tls logs no exporter secret and takes no early data,
// so those secrets are never known.
//
// Where crypto/tls cannot do what a keyword asks, the package says so:
// TLS 1.3 suites cannot be restricted (ciphersuites is only checked),
// SSLv3 and finite-field DHE suites are not implemented, and sessions are
// resumed only through tickets (with a store, the ticket is an opaque ID),
// never through TLS 1.2 session IDs.
package tls
