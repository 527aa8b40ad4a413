// Package h1 is the HTTP/1 codec and mux: a strict incremental parser for
// HTTP/1.0 and HTTP/1.1 requests and responses, a serialiser writing
// [htx.Message] values back as HTTP/1.1, and the mux that turns a
// connection into one stream per exchange.
//
// Importing the package registers the mux twice, as HAProxy does: under
// the name "h1" (forced with `proto h1`), and as the default HTTP mux,
// also chosen by the ALPN token "http/1.1", on both sides.
//
// # Parsing
//
// [Parser] reads a message head from the bytes received so far and
// returns [ErrNeedMore] until the empty line has arrived; bytes may come
// one at a time at linear cost. The head is copied into the message, so
// the read buffer can go back to its pool as soon as the body has been
// read. [BodyDecoder] then strips Content-Length, chunked (extensions are
// tolerated and dropped, trailers kept) or close-delimited framing.
//
// Every refusal is an [*Error] carrying the status to answer, after which
// the connection is closed. Requests are held to these rules, chosen
// against request smuggling (RFC 9112 §6.1, §6.3) and matching HAProxy
// where HAProxy is as strict:
//
//   - Content-Length and Transfer-Encoding together: 400. RFC 9112 §6.1
//     lets a server either refuse or let Transfer-Encoding win and close;
//     HAProxy 2.6 does the latter (checked against haproxy 2.6: it drops
//     Content-Length, decodes chunked and answers with Connection: close). Refusing is chosen because nothing
//     legitimate sends both and a downstream server that disagrees about
//     which wins is exactly how smuggling works.
//   - Transfer-Encoding whose last coding is not chunked ("xchunked",
//     "chunked, gzip"), or with chunked twice: 400 (§6.3 says the length
//     cannot be determined). Other codings before chunked ("gzip,
//     chunked"): 501, as §6.1 suggests for codings the server does not
//     implement (HAProxy 2.6 accepts those and refuses "xchunked" with
//     400). Transfer-Encoding in an HTTP/1.0 request: 400.
//   - Content-Length: a list of equal decimal values is accepted ("5, 5"
//     and repeated fields with the same value, RFC 9110 §8.6); differing
//     values, signs, inner spaces, empty elements, hex or more than 18
//     digits: 400.
//   - Whitespace between a field name and its colon, obs-fold, NUL, bare
//     CR, control characters in names or values; in the request-target,
//     '#', controls, spaces and bytes outside ASCII: 400. The visible
//     characters RFC 3986 leaves out but clients send unencoded ('"',
//     '<', '>', '\', '^', '`', '{', '|', '}') pass, as through HAProxy.
//   - HTTP/1.1 without Host, or with two: 400. An absolute-form target
//     whose authority differs from Host: 400 (RFC 9112 §3.2.2 would have
//     Host ignored; refusing keeps routing on Host and on the authority
//     in agreement, as HAProxy does).
//   - A request line longer than Limits.BufSize: 414; a head larger than
//     it or with more than Limits.MaxHeaders fields: 431. HAProxy 2.6
//     answers 400 for both (checked); the specific statuses tell the
//     client what to fix.
//   - A body larger than Limits.MaxBody: 413.
//
// Responses get the same checks with status 502 (the answer a proxy gives
// its client). A response with both framings lets Transfer-Encoding win
// and is marked FlagClose, so the server connection is not reused; one
// whose Transfer-Encoding does not end in chunked runs to the close.
// 1xx, 204 and 304 responses and responses to HEAD have no body, and a
// 1xx never claims a length; a 101 (only when the request asked to
// upgrade) and a 2xx to CONNECT open a tunnel.
//
// # Serialising
//
// [AppendRequest] and [AppendResponse] write a message head, dropping the
// hop-by-hop fields (Connection, Keep-Alive, Proxy-Connection, TE,
// Transfer-Encoding, Upgrade, Content-Length and the fields Connection
// names) and writing framing and connection fields from the flags:
// Content-Length when the length is known, chunked when it is not (to an
// HTTP/1.1 peer) or close-delimited (to an HTTP/1.0 one), none for
// bodyless messages; Connection: close, keep-alive or upgrade.
//
// # The mux
//
// On the front side [Mux.Accept] reads one request head and returns a
// [*Stream]; the handler reads the body with Read and answers with
// WriteResponse, Write and Finish; Accept then waits for the next request
// of the keep-alive connection. On the back side [Mux.Open] returns a
// stream to send a request with WriteRequest, Write and Finish and read
// the response with ReadResponse and Read. After a 101 or a successful
// CONNECT, [Stream.Tunnel] hands over the connection as a [mux.Tunnel].
//
// A connection waiting for its next request holds no buffer: on a raw
// socket the runtime poller runs a receive into a 16 KiB buffer borrowed
// from a pool for the attempt, handed back at once when nothing is there,
// kept once bytes arrive and given back once a message has been read and
// nothing is left over.
//
// [Limits.RequestTimeout] bounds the wait for a request head as timeout
// http-request does: a client that began a head and did not finish it in
// time is answered 408 and closed, a silent one closed quietly.
//
// On the back side the request body may be written in one goroutine
// while another reads the response (a server may answer early, 413 to a
// body it will not take): the writing side keeps its buffer under its
// own lock, which ReadResponse only tries.
package h1
