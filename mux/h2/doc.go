// Package h2 is the HTTP/2 mux (RFC 9113), for both sides of the proxy.
//
// On the front side a [Mux] reads the client's connection preface and
// yields one [Stream] per request from Accept, with the request head
// ready in [Stream.Request]; the response goes back with WriteResponse,
// Write and Finish. On the back side Open starts a new stream on a
// connection to a server, so many requests share one connection: the
// request goes out with WriteRequest, Write and Finish, and the response
// comes back with ReadResponse and Read. Streams satisfy
// [mux.HTTPStream], the contract every HTTP mux shares, so a gateway
// between HTTP/1 and HTTP/2 is only a choice of muxes.
//
// Frames are read and written with the framer of golang.org/x/net/http2
// and header blocks decoded with its HPACK decoder, except for the
// frames every request and response carries: DATA and whole HEADERS
// frames are read in place, header blocks encoded and HEADERS,
// CONTINUATION and DATA frames written by the mux itself. One reader
// goroutine per connection
// demultiplexes frames to streams; writes from every stream go through
// one buffered writer, flushed by a flusher goroutine that lets the
// writers ready to run go first, so that a response's HEADERS, DATA and
// END_STREAM, and the frames of streams answered at the same time, leave
// in one system call. The flusher runs only while there is something to
// flush, and both buffers come from shared pools only while bytes wait
// in them (over TLS, while the peer sends), so an idle connection holds
// neither; DATA frames bypass the framer, whose own buffers would keep
// the size of the largest frame. A reader that has had no frame for
// 100 ms parks in the shared idle poller ([xprt.IdleWait]), on a raw
// socket or, over TLS, on the socket the transport lends once it holds
// no whole record ([xprt.Idler]), and a new reader goroutine starts when
// bytes come; the reader sets the transport's read deadline for this, so
// callers stop a connection with Close or Shutdown rather than with a
// deadline. Parking, it also lets go of the HPACK encoder (the next
// answer empties the peer's copy of its table and starts anew), the map
// of streams and other scratch kept for a busy connection.
// Request heads are decoded into storage recycled from closed streams,
// a front-side stream whose request came whole in its HEADERS frame is
// itself reused once closed (so an HTTP/2 request without a body costs
// the mux no allocation), and header blocks are encoded without
// allocating: a field sent before is an index into the HPACK dynamic
// table, found without a map, and the table keeps its bytes in buffers
// it reuses. A stream's Read takes data from the stream's own queue and
// returns flow-control credit to the peer as the application consumes
// it, so a slow reader slows its sender instead of growing memory.
//
// The mux defends itself the way HAProxy does: it refuses streams beyond
// SETTINGS_MAX_CONCURRENT_STREAMS with REFUSED_STREAM, caps header lists
// (SETTINGS_MAX_HEADER_LIST_SIZE) and the number and size of CONTINUATION
// frames of one header block, and closes a connection whose client resets
// too many streams too fast (CVE-2023-44487) with GOAWAY
// ENHANCE_YOUR_CALM. Requests are validated as RFC 9113 §8 says
// (lower-case names, no connection-specific fields, pseudo-header rules,
// the CONNECT form, Content-Length against the DATA received); a
// malformed request is reset with PROTOCOL_ERROR.
//
// Messages cross into the neutral [htx.Message] form: pseudo-headers
// become the start line, cookie crumbs are joined with "; " (as HTTP/1
// needs), and on output names are lower-cased and the HTTP/1 hop-by-hop
// fields are dropped, the framing being carried by the frames.
//
// A plain CONNECT request (RFC 9113 §8.5) turns its stream into a tunnel
// with [Stream.Tunnel] once a 2xx answer has passed; extended CONNECT
// (RFC 8441) is not supported.
package h2
