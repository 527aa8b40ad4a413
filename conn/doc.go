// Package conn holds connections and what creates them: the [Listener]
// that accepts clients, the [Dialer] that connects to servers, the [Conn]
// they produce, and the PROXY protocol codec (v1 and v2, with TLVs) that
// carries a client's addresses across a proxy.
//
// It is the layer HAProxy spreads over connection.c, listener.c and
// proto_tcp.c. A connection's life, on the accepting side:
//
//  1. [Listener.Accept] waits until a connection slot is free (MaxConn,
//     and any [Slots] shared with other listeners)
//     and the accept rate allows one more, then accepts a socket. Over
//     either limit it simply stops accepting: the kernel backlog holds
//     the clients, nobody is refused.
//  2. The connection rules ([Rule]) run on the bare socket, before any
//     byte is read and before any buffer exists: accept, reject (a
//     reset) or silent-drop (the client learns nothing).
//  3. [Conn.Handshake], in the connection's own goroutine and bounded by
//     a timeout, reads the PROXY header when one is expected, then runs
//     the transport's handshake (TLS). A slow or malformed client delays
//     and hurts nobody else, and nothing it sent is passed on.
//  4. The caller attaches a mux ([Conn.SetMux]) and moves bytes through
//     [Conn.Transport].
//
// [Listener.Serve] runs steps 1–3 for the caller. On the connecting side,
// [Dialer.Dial] binds a source address if asked, connects (through a SOCKS4
// proxy when [Dialer.SOCKS4] names one), sends the PROXY header with the
// client's addresses, and runs the transport handshake.
//
// The PROXY codec parses from bytes ([ParseProxyHeader]) or from a
// connection ([ReadProxyHeader]) without reading one byte past the header,
// and writes with [ProxyHeader.AppendTo]. Parsing into a reused
// [ProxyHeader] allocates nothing.
package conn
