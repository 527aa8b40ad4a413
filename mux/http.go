package mux

import "github.com/proxyblocks/proxyblocks/mux/htx"

// HTTPStream is one HTTP exchange, a request and its response, carried in
// the neutral [htx.Message] form. Every HTTP mux yields streams of this
// shape, so a gateway between protocols is only the choice of a front mux
// and a back mux: the code between them reads one HTTPStream and writes
// the other, whatever the versions.
//
// On the front side the request head is ready when Accept returns it
// (Request), its body comes from Read, and the response goes out with
// WriteResponse, Write and Finish. On the back side the request goes out
// with WriteRequest, Write and Finish, and the response comes back with
// ReadResponse and Read. Trailers of an incoming message land in the
// message Read was reading for once Read returns io.EOF.
type HTTPStream interface {
	Stream
	// Request is the request head (front side).
	Request() *htx.Message
	// WriteRequest sends a request head (back side).
	WriteRequest(m *htx.Message) error
	// ReadResponse reads the next response head into m (back side); 1xx
	// interim responses are returned as they come.
	ReadResponse(m *htx.Message) error
	// WriteResponse sends a response head (front side); a 1xx response may
	// precede the final one.
	WriteResponse(m *htx.Message) error
	// Read reads the incoming message's body.
	Read(p []byte) (int, error)
	// Write sends body data of the outgoing message.
	Write(p []byte) (int, error)
	// Finish ends the outgoing message, with trailers when non-nil.
	Finish(trailers *htx.Message) error
	// Tunnel turns the stream into an opaque tunnel after a successful
	// CONNECT or a 101 Switching Protocols.
	Tunnel() (Tunnel, error)
}
