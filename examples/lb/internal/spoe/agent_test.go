package spoe

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// testAgent is a small SPOA: it answers HELLOs as told and each NOTIFY
// through answer, which returns the ACK's actions (nil: no ACK at all).
type testAgent struct {
	t      *testing.T
	ln     net.Listener
	stop   func()
	caps   string
	frame  int
	answer func(c net.Conn, f Frame, msgs []Message) []Action
	// hello, when set, replaces the AGENT-HELLO's items (which announce
	// the smaller of frame and the client's size, and caps).
	hello []KV

	mu       sync.Mutex
	hellos   [][]KV
	notifies []Frame
	conns    int
}

func newTestAgent(t *testing.T, answer func(c net.Conn, f Frame, msgs []Message) []Action) *testAgent {
	a := &testAgent{t: t, ln: testnet.Listen(t), caps: "pipelining,async", frame: 16380, answer: answer}
	a.stop = testnet.Accept(a.ln, a.serve)
	t.Cleanup(a.stop)
	return a
}

func (a *testAgent) addr() string { return a.ln.Addr().String() }

func (a *testAgent) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", a.addr())
}

func (a *testAgent) serve(c net.Conn) {
	defer c.Close()
	a.mu.Lock()
	a.conns++
	a.mu.Unlock()
	var buf []byte
	var wmu sync.Mutex
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = c.Write(b)
	}
	for {
		f, nb, err := ReadFrame(c, buf, 1<<20)
		buf = nb
		if err != nil {
			return
		}
		switch f.Type {
		case FrameHAProxyHello:
			kvs, err := ParseKVList(f.Payload)
			if err != nil {
				a.t.Errorf("agent: bad HELLO: %v", err)
				return
			}
			a.mu.Lock()
			a.hellos = append(a.hellos, kvs)
			a.mu.Unlock()
			if a.hello == nil {
				// The smaller of the two sizes, as the protocol asks.
				size := uint64(a.frame)
				if v, ok := Lookup(kvs, "max-frame-size"); ok && v.Uint < size {
					size = v.Uint
				}
				write(AppendAgentHello(nil, int(size), a.caps))
				continue
			}
			b := AppendFrameHead(nil, FrameAgentHello, FlagFin, 0, 0)
			for _, kv := range a.hello {
				b = AppendKV(b, kv.Key, kv.Value)
			}
			write(FinishFrame(b, 0))
		case FrameNotify:
			msgs, err := ParseMessages(f.Payload)
			if err != nil {
				a.t.Errorf("agent: bad NOTIFY: %v", err)
				return
			}
			f.Payload = append([]byte(nil), f.Payload...)
			a.mu.Lock()
			a.notifies = append(a.notifies, f)
			a.mu.Unlock()
			acts := a.answer(c, f, msgs)
			if acts == nil {
				continue
			}
			b := AppendFrameHead(nil, FrameAck, FlagFin, f.StreamID, f.FrameID)
			for _, act := range acts {
				b = AppendAction(b, act)
			}
			write(FinishFrame(b, 0))
		case FrameHAProxyDisconn:
			b := AppendFrameHead(nil, FrameAgentDisconnect, FlagFin, 0, 0)
			b = AppendKV(b, "status-code", Uint32(0))
			b = AppendKV(b, "message", Str("bye"))
			write(FinishFrame(b, 0))
			return
		}
	}
}

// echoScore answers every NOTIFY with set-var(sess.score) of the first
// argument's length and unset-var(txn.tmp).
func echoScore(_ net.Conn, _ Frame, msgs []Message) []Action {
	n := 0
	if len(msgs) > 0 && len(msgs[0].Args) > 0 {
		n = len(msgs[0].Args[0].Value.Bytes)
	}
	return []Action{
		{Type: ActionSetVar, Scope: ScopeSess, Name: []byte("score"), Value: Value{Type: TypeInt32, Int: int64(n)}},
		{Type: ActionUnsetVar, Scope: ScopeTxn, Name: []byte("tmp")},
	}
}
