// Package spoe speaks SPOP 2.0, the Stream Processing Offload Protocol
// by which HAProxy's "filter spoe" hands samples of a stream to external
// agents (a web application firewall, an IP reputation service, an
// authentication server) and takes back the variables they set.
//
// The codec (spop.go) reads and writes both sides' frames: HELLO,
// NOTIFY, ACK and DISCONNECT, their typed data and variable-length
// integers. Client (client.go) is the balancer's side: it opens
// connections to the agents as exchanges need them, runs the HELLO
// handshake, sends NOTIFY frames pipelined on one connection or spread
// over several, takes an ACK on any connection when the agent works
// asynchronously, and closes connections left idle.
//
// The configuration of engines, messages and groups is read by the
// config package; the balancer compiles messages' arguments into sample
// fetches and applies the actions to a stream's variables.
package spoe
