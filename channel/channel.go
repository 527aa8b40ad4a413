// Package channel moves the bytes of one stream between two transports.
//
// A [Channel] is one direction: it reads from a source transport and
// writes to a destination, the way HAProxy's struct channel carries a
// request or a response. It borrows a buffer from a [buffer.Pool] only
// while bytes are in flight and gives it back once they have left, so an
// idle connection holds no buffer; it tracks shutdowns (read side seen
// closed, write side shut with CloseWrite after the data drained), read
// and write timeouts, byte counters readable while it runs, to_forward
// (bytes passed without analysis), and analysers that inspect or rewrite
// buffered data before it leaves.
//
// When both transports are raw sockets, nothing is left to analyse and
// splicing is enabled, the channel moves bytes with splice(2) through a
// pipe from a [buffer.PipePool], held only while bytes are inside it, and
// user space never touches them. Outside Linux there are no such pipes,
// and the channel copies through its buffer.
//
// A source that transforms bytes (TLS) cannot be watched through its
// socket while it may hold decoded bytes the socket no longer shows. The
// channel keeps its buffer over such a source while bytes stream, gives
// it back after a moment (100 ms) of silence, and then waits on a
// one-byte read into a byte of its own; the byte that ends the wait is
// the first one put into the next buffer, followed by what the transport
// decoded with it. An idle TLS connection thus holds no buffer either.
// A transport that can say when it holds nothing ([xprt.Idler], as the
// tls transport does once a read ended by its deadline with no bytes)
// lets a tunnel's direction park on its socket like a raw one (see Idle
// tunnels), so an idle TLS tunnel holds no goroutine either.
//
// [Tunnel] runs the two channels of a connection (request and response)
// with HAProxy's timeout client/server/tunnel semantics and reports what a
// TCP log needs: bytes each way and how the stream ended.
//
// # Idle tunnels
//
// A direction waiting for its source first waits the usual way, in
// RawConn.Read on the runtime's netpoller, so a busy stream pays nothing
// extra. Once its source has been silent for a moment (100 ms) and it
// holds no buffer or pipe, a tunnel's direction parks instead: it
// registers the socket with the process's shared idle poller,
// [xprt.IdleWait] (one epoll instance; EPOLLIN|EPOLLRDHUP|EPOLLONESHOT;
// the socket stays in the runtime's set too) and its goroutine returns.
// A TLS source parks the same way once it holds nothing; a wake may find
// half a record, and the direction then waits for the rest in its read,
// and parks again after a moment. One
// poller goroutine, itself parked on the netpoller through the epoll
// descriptor and alive only while something is parked, starts a goroutine
// for a direction whose socket turns readable; the same poller wakes it
// when its timeout falls due (the parked directions' deadlines sit in one
// heap, under one deadline on the epoll descriptor, rather than a timer
// each), a canceled context or a failing peer direction wakes
// it at once, and a periodic sweep wakes it if its socket was closed
// underneath it (closing a socket takes it out of every epoll set without
// an event). [Tunnel.Start] then holds no goroutine at all for an idle
// tunnel, [Tunnel.Run] only its caller's. [Tunnel.Drive] is Start with
// the caller's goroutine running the request direction until it first
// parks, so that a short connection is served on the goroutine that
// accepted it, and [TunnelConfig.Go] lets a proxy run the other
// directions on goroutines it keeps, whose stacks have grown already.
//
// Why not the alternatives: a goroutine per direction parked in the
// netpoller keeps a stack that grew while forwarding (the runtime only
// shrinks stacks during a collection, which an idle process does not
// run), about 8 KiB each; a fresh small goroutine per idle direction
// still costs 2 KiB or more plus its g; one goroutine per tunnel blocked
// in poll(2) on both sockets holds an OS thread. Outside Linux, and for
// a lone [Channel], directions keep waiting in RawConn.Read.
//
// The same poller serves connections that are not tunnels through
// [xprt.IdleWait]: an HTTP server waiting for a keep-alive client's next
// request lets its goroutine go and gets a new one when the request
// comes.
package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// Infinite is the to_forward value meaning "forward everything from now
// on"; it is never lowered as bytes pass.
const Infinite int64 = math.MaxInt64

// maxSpliceAtOnce caps one splice(2) call, as HAProxy's MAX_SPLICE_AT_ONCE.
const maxSpliceAtOnce = 1 << 30

// MinSpliceForward is the smallest to_forward for which a channel that
// still has analysers splices: below it the pipe costs more than a copy.
const MinSpliceForward = 4096

var (
	// ErrReadTimeout means nothing was read from the source (nor, in a
	// tunnel, written to it) for the read timeout.
	ErrReadTimeout = errors.New("channel: read timeout")
	// ErrWriteTimeout means a write to the destination made no progress
	// for the write timeout.
	ErrWriteTimeout = errors.New("channel: write timeout")
	// ErrBufferFull means an analyser asked for more data than the buffer
	// can hold.
	ErrBufferFull = errors.New("channel: buffer full while an analyser waits for more data")
	// ErrIncomplete means the source closed while an analyser still waited
	// for more data.
	ErrIncomplete = errors.New("channel: source closed while an analyser waits for more data")
	// ErrAborted is returned by Run after [Channel.Abort].
	ErrAborted = errors.New("channel: aborted")
	// ErrRunning is returned by Run when the channel already ran.
	ErrRunning = errors.New("channel: Run called twice")
)

// Op names the part of the channel an [OpError] comes from.
type Op string

// The operations of a channel.
const (
	OpRead    Op = "read"    // reading the source
	OpWrite   Op = "write"   // writing or shutting the destination
	OpAnalyse Op = "analyse" // an analyser refused the data
)

// OpError is the error Run returns: what failed and why.
type OpError struct {
	Op  Op
	Err error
}

// Error names the operation that failed and why.
func (e *OpError) Error() string { return "channel: " + string(e.Op) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// SpliceMode says when a channel may splice.
type SpliceMode uint8

const (
	// SpliceNever always copies through a buffer.
	SpliceNever SpliceMode = iota
	// SpliceAlways splices whenever both ends are raw and nothing is left
	// to analyse (option splice-request for the request channel,
	// splice-response for the response channel).
	SpliceAlways
	// SpliceAuto splices once the channel is seen streaming: three reads
	// in a row that fill the buffer (option splice-auto).
	SpliceAuto
)

// Verdict is what an analyser says after looking at the input.
type Verdict uint8

const (
	// More asks for more input before deciding.
	More Verdict = iota
	// Continue says the analyser made progress (forwarded or rewrote
	// bytes) and wants to be called again on the input left.
	Continue
	// Done removes the analyser: it has nothing more to look at.
	Done
)

// Analyser inspects the input of a channel (the bytes read but not yet
// scheduled to leave, see [Channel.Input]) and may rewrite them
// ([Channel.Replace]), let some through ([Channel.Forward]), ask for more,
// or stop the stream by returning an error. Analysers run in order on the
// channel's goroutine; the first one must be Done before the next runs.
// When every analyser is Done the channel forwards everything.
type Analyser func(c *Channel) (Verdict, error)

// Config sets up a [Channel].
type Config struct {
	// Pool lends the buffers; buffer.DefaultPool() when nil.
	Pool *buffer.Pool
	// Pipes lends the pipes for splicing; no splicing when nil.
	Pipes *buffer.PipePool
	// Splice says when to splice.
	Splice SpliceMode
	// ReadTimeout ends the channel with ErrReadTimeout when nothing is read
	// for that long; 0 means none. (A [Tunnel]'s direction ends instead as
	// on its source's end of stream; see [Tunnel.Run].)
	ReadTimeout time.Duration
	// WriteTimeout ends the channel with ErrWriteTimeout when a write makes
	// no progress for that long; 0 means none.
	WriteTimeout time.Duration
	// Analysers run, in order, on the data before it is forwarded.
	Analysers []Analyser
}

// Stats are a channel's byte counters.
type Stats struct {
	// In counts bytes read from the source.
	In int64
	// Out counts bytes written to the destination.
	Out int64
	// Spliced counts the bytes of Out that went through a pipe.
	Spliced int64
}

// Flags describe a channel's state.
type Flags uint32

// The channel flags.
const (
	FlagShutR        Flags = 1 << iota // the source reached end of stream
	FlagShutW                          // the destination's write side is shut
	FlagReadTimeout                    // the read timeout struck
	FlagWriteTimeout                   // the write timeout struck
	FlagError                          // the channel ended on an error
	FlagStreamer                       // the channel is seen streaming (for SpliceAuto)
)

// clock records the last activity on one side of a stream, in
// nanoseconds since epoch, shared by the two channels of a tunnel.
type clock struct{ last atomic.Int64 }

var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

func (k *clock) touch(now int64) { k.last.Store(now) }

// stampEvery bounds how many reads and writes in a row that did not wait
// may reuse the channel's last clock read (see Channel.stamp).
const stampEvery = 16

// errStopped is what the loop returns when Abort or a context stopped it.
var errStopped = errors.New("channel: stopped")

// errPark is what the loop returns when the direction should park.
var errPark = errors.New("channel: park")

// errNoPipe and errNoSplice report from the splice callback that the
// buffer path must be used, once or for good.
var (
	errNoPipe   = errors.New("channel: no pipe")
	errNoSplice = errors.New("channel: splice unsupported")
	errNoBuffer = errors.New("channel: no buffer")
)

// Channel is one direction of a stream. Create it with [New], run it with
// [Channel.Run]; the counters and flags may be read from any goroutine
// while it runs.
type Channel struct {
	// The fields are ordered so that the struct packs without holes: two
	// of them make every tunnel, idle ones included, so a size class
	// saved here is saved twice per connection.
	src, dst     xprt.Transport
	srcRC, dstRC syscall.RawConn
	pool         *buffer.Pool
	pipes        *buffer.PipePool
	rto, wto     time.Duration
	// analysers are those not yet Done, with their expiry; nil once all
	// are, or when there were none (a tunnel's usual case), which saves
	// the words.
	analysers *analysis

	buf       *buffer.Buffer
	pipe      *buffer.Pipe
	output    int   // bytes at the head of buf scheduled to leave
	toForward int64 // bytes that will pass without analysis

	in      atomic.Int64
	out     atomic.Int64
	spliced atomic.Int64

	// srcClock and dstClock are the tunnel's clocks of the two sides, or
	// the lone channel's own.
	srcClock, dstClock *clock
	now                int64 // last clock read, see stamp
	wlast              int64 // last write progress, for the write timeout
	rdl, wdl           int64 // deadlines currently set, 0 for none
	lastIn             int64 // last read from the source, or last wake

	tun *Tunnel
	// cb is the one callback handed to RawConn.Read and Write; cbOp says
	// what it does on this call (read, write, splice in or out). One
	// closure made at New, rather than one per operation, keeps every
	// channel, idle ones included, to a single small allocation besides
	// itself.
	cb    func(uintptr) bool
	cbErr error
	// stop is made only when something waits on a channel for the stop
	// (a pool at its cap): most channels never need one.
	stop atomic.Pointer[stopSignal]

	// Parking in the shared idle poller (tunnels only, see park.go).
	pw xprt.IdleWait

	flags atomic.Uint32
	cbN   int32 // no call moves more than maxSpliceAtOnce
	// state holds the stRunning, stStopped and stAnalysed bits: one word
	// for three flags keeps the struct in its size class.
	state    atomic.Uint32
	fresh    uint8 // stamps left that may reuse now
	streak   uint8 // reads in a row that filled half the buffer, up to 3
	splice   SpliceMode
	cbOp     uint8
	waited   bool // the last read or write waited on the netpoller
	noSplice bool
	noPipe   bool
	noPark   bool
	// idler says the source transforms bytes and can say when it holds
	// nothing (see xprt.Idler).
	idler bool
	// scratch takes the first byte from a transport that transforms
	// bytes (TLS) while no buffer is held (recvXform).
	scratch [1]byte
}

// The bits of Channel.state.
const (
	stRunning  uint32 = 1 << iota // Run or a tunnel started it
	stStopped                     // interrupted: Abort, a canceled context, the peer
	stAnalysed                    // every analyser is Done
)

func (c *Channel) isStopped() bool { return c.state.Load()&stStopped != 0 }

// setRunning marks the channel started and reports whether it already was.
func (c *Channel) setRunning() (already bool) { return c.state.Or(stRunning)&stRunning != 0 }
func (c *Channel) isAnalysed() bool           { return c.state.Load()&stAnalysed != 0 }

// The operations of Channel.cb.
const (
	cbRead uint8 = iota
	cbWrite
	cbSpliceIn
	cbSpliceOut
)

// stopSignal is a channel closed once when the channel is stopped.
type stopSignal struct {
	once sync.Once
	ch   chan struct{}
}

func (s *stopSignal) close() { s.once.Do(func() { close(s.ch) }) }

// New returns a channel that moves bytes from src to dst.
func New(src, dst xprt.Transport, cfg Config) (*Channel, error) {
	own := new([2]clock)
	return newChannel(src, dst, cfg, &own[0], &own[1])
}

// newChannel is New with the clocks of the source and destination sides,
// which a tunnel shares between its two channels.
func newChannel(src, dst xprt.Transport, cfg Config, srcClock, dstClock *clock) (*Channel, error) {
	if src == nil || dst == nil {
		return nil, errors.New("channel: New needs a source and a destination")
	}
	if cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 {
		return nil, fmt.Errorf("channel: negative timeout (read %v, write %v)", cfg.ReadTimeout, cfg.WriteTimeout)
	}
	if cfg.Splice > SpliceAuto {
		return nil, fmt.Errorf("channel: unknown splice mode %d", cfg.Splice)
	}
	c := &Channel{
		src: src, dst: dst,
		pool: cfg.Pool, pipes: cfg.Pipes, splice: cfg.Splice,
		rto: cfg.ReadTimeout, wto: cfg.WriteTimeout,
	}
	if len(cfg.Analysers) > 0 {
		c.analysers = &analysis{list: append([]Analyser(nil), cfg.Analysers...)}
	}
	if c.pool == nil {
		c.pool = buffer.DefaultPool()
	}
	if rc, ok := src.Raw(); ok {
		c.srcRC = rc
	} else if _, ok := src.(xprt.Idler); ok {
		c.idler = true
	}
	if rc, ok := dst.Raw(); ok {
		c.dstRC = rc
	}
	if c.analysers == nil {
		c.toForward = Infinite
		c.state.Or(stAnalysed)
	}
	c.srcClock, c.dstClock = srcClock, dstClock
	// A method value allocates; make it once so the loop does not.
	c.cb = c.rawCB
	return c, nil
}

// Stats returns the byte counters.
func (c *Channel) Stats() Stats {
	return Stats{In: c.in.Load(), Out: c.out.Load(), Spliced: c.spliced.Load()}
}

// Flags returns the state flags.
func (c *Channel) Flags() Flags { return Flags(c.flags.Load()) }

// ShutR reports whether the source reached end of stream.
func (c *Channel) ShutR() bool { return c.Flags()&FlagShutR != 0 }

// ShutW reports whether the destination's write side is shut.
func (c *Channel) ShutW() bool { return c.Flags()&FlagShutW != 0 }

func (c *Channel) setFlag(f Flags) { c.flags.Or(uint32(f)) }

// Input returns the bytes read but not yet scheduled to leave, as at most
// two slices aliasing the buffer. Analysers call it.
func (c *Channel) Input() (first, second []byte) {
	if c.buf == nil {
		return nil, nil
	}
	d1, d2 := c.buf.Data()
	if c.output < len(d1) {
		return d1[c.output:], d2
	}
	return d2[c.output-len(d1):], nil
}

// InputLen is the number of input bytes.
func (c *Channel) InputLen() int {
	if c.buf == nil {
		return 0
	}
	return c.buf.Len() - c.output
}

// PeekInput copies input bytes from offset off into p, returning how many
// it copied.
func (c *Channel) PeekInput(off int, p []byte) int {
	if c.buf == nil || off < 0 {
		return 0
	}
	return c.buf.Peek(c.output+off, p)
}

// Replace rewrites input: the n bytes at offset off of the input become
// p. It fails with buffer.ErrNoRoom when the result would not fit.
func (c *Channel) Replace(off, n int, p []byte) error {
	if c.buf == nil {
		if off == 0 && n == 0 && len(p) == 0 {
			return nil
		}
		return fmt.Errorf("%w: no input to rewrite", buffer.ErrRange)
	}
	if off < 0 || off > c.InputLen() {
		return fmt.Errorf("%w: input offset %d of %d", buffer.ErrRange, off, c.InputLen())
	}
	return c.buf.Replace(c.output+off, n, p)
}

// Forward schedules n bytes to pass without analysis: the input bytes
// available leave at once, the rest as they arrive (to_forward), before
// any analyser sees more input. Call it from an analyser or before Run.
func (c *Channel) Forward(n int64) {
	if n <= 0 {
		return
	}
	adv := min(n, int64(c.InputLen()))
	c.output += int(adv)
	n -= adv
	if n > 0 && c.toForward != Infinite {
		c.toForward = min(c.toForward+n, Infinite-1)
	}
}

// ToForward is the number of bytes still to pass without analysis.
func (c *Channel) ToForward() int64 { return c.toForward }

// Abort stops a running channel from any goroutine: Run returns
// ErrAborted. Nothing is closed.
func (c *Channel) Abort() { c.interrupt() }

func (c *Channel) interrupt() {
	c.state.Or(stStopped)
	if s := c.stop.Load(); s != nil {
		s.close()
	}
	past := time.Unix(1, 0)
	_ = c.src.SetReadDeadline(past)
	_ = c.dst.SetWriteDeadline(past)
	c.pw.Wake()
}

// Run moves bytes until the source reaches end of stream and everything
// read has been written, then shuts the destination's write side with
// CloseWrite and returns nil. It returns an *OpError when reading,
// writing or an analyser fails, ErrAborted after Abort, or ctx's error
// once ctx is done. It closes neither transport, and before returning
// gives back any buffer or pipe it holds.
func (c *Channel) Run(ctx context.Context) error {
	if c.setRunning() {
		return ErrRunning
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, c.interrupt)
		defer stop()
	}
	err := c.run()
	if errors.Is(err, errStopped) {
		if ctx.Err() != nil {
			return fmt.Errorf("channel: %w", context.Cause(ctx))
		}
		return ErrAborted
	}
	return err
}

// run is Run without the context: the loop plus the release of borrowed
// storage, exactly once, on every way out.
func (c *Channel) run() error {
	c.start()
	return c.end(c.loop())
}

func (c *Channel) start() {
	now := mono()
	c.srcClock.touch(now)
	c.dstClock.touch(now)
	c.lastIn = now
}

func (c *Channel) end(err error) error {
	c.release()
	if err != nil && !errors.Is(err, errStopped) {
		c.setFlag(FlagError)
	}
	return err
}

// drive runs a tunnel's direction on the calling goroutine until it ends,
// and tells the tunnel, or until it parks, and returns at once: a wake
// calls drive again on a new goroutine.
func (c *Channel) drive() {
	for {
		err := c.loop()
		if err == errPark {
			if c.park() {
				return
			}
			c.lastIn = mono()
			continue
		}
		c.tun.finish(c, c.end(err))
		return
	}
}

func (c *Channel) release() {
	if c.buf != nil {
		c.pool.Put(c.buf)
		c.buf = nil
	}
	if c.pipe != nil {
		c.pipes.Put(c.pipe)
		c.pipe = nil
	}
}

func (c *Channel) putBuf() {
	c.pool.Put(c.buf)
	c.buf = nil
	c.output = 0
}

func (c *Channel) loop() error {
	// The time moved on while the loop was away (parked, or not started).
	c.now, c.fresh = mono(), stampEvery
	for {
		if c.isStopped() {
			return errStopped
		}
		if c.output > 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if c.buf != nil && c.buf.Len() == 0 && (c.srcRC != nil || c.ShutR()) {
			// A transforming source keeps its emptied buffer while it
			// streams; recv gives it back once the source falls silent.
			c.putBuf()
		}
		if c.ShutR() {
			if c.buf != nil {
				// Only unanalysed input can be left; analyse() settles it.
				if err := c.analyse(); err != nil {
					return err
				}
				if c.output > 0 {
					continue
				}
			}
			// The flag goes up before the shutdown, so that the other
			// direction, ending on what the peer does once it sees the
			// FIN, always finds it and knows itself the last.
			last := c.lastOfTunnel()
			c.setFlag(FlagShutW)
			if !last {
				if err := c.dst.CloseWrite(); err != nil {
					return &OpError{Op: OpWrite, Err: fmt.Errorf("shutting the write side: %w", err)}
				}
				if c.tun != nil {
					c.tun.shutWrote(c)
				}
			}
			return nil
		}
		if c.canSplice() {
			if err := c.spliceOnce(); err != nil {
				return err
			}
			continue
		}
		if err := c.recv(); err != nil {
			return err
		}
		if err := c.analyse(); err != nil {
			return err
		}
	}
}

// lastOfTunnel reports whether c is a tunnel's direction ending after the
// other one has, writing to a raw socket: the tunnel closes both
// transports as soon as c returns, and closing the socket sends the FIN
// its shutdown would, so that system call is saved. The other direction
// read its end of stream from the same socket, so no unread byte there
// turns the close into a reset. Other transports end a stream on
// CloseWrite in their own way (close_notify, END_STREAM) and keep it.
func (c *Channel) lastOfTunnel() bool {
	t := c.tun
	if t == nil || c.dstRC == nil {
		return false
	}
	other := t.req
	if other == c {
		other = t.res
	}
	// A direction that timed out did not read its source to the end:
	// bytes left there would turn the close into a reset.
	return other.Flags()&(FlagShutW|FlagReadTimeout) == FlagShutW
}

func (c *Channel) canSplice() bool {
	if c.pipes == nil || c.srcRC == nil || c.dstRC == nil || c.noSplice || c.buf != nil {
		return false
	}
	if c.noPipe {
		c.noPipe = false
		return false
	}
	switch c.splice {
	case SpliceAlways:
	case SpliceAuto:
		if c.Flags()&FlagStreamer == 0 {
			return false
		}
	default:
		return false
	}
	return c.analysers == nil || c.toForward >= MinSpliceForward
}

// readTimeout and writeTimeout give the timeouts in force: a tunnel
// switches to its tunnel timeout once both directions are analysed.
func (c *Channel) readTimeout() time.Duration {
	if t := c.tun; t != nil {
		if fin := t.finTimeout(c); fin > 0 {
			return fin
		}
		if t.tunnelTO > 0 && t.established() {
			return t.tunnelTO
		}
	}
	return c.rto
}

// retime makes the direction look at its read timeout again, from any
// goroutine: the timeout has changed (a half-closed timeout took over).
// A read in progress wakes on a past deadline and a parked direction is
// woken; each re-arms with the timeout now in force. Its own arming
// checks the timeout again after setting a deadline, so a change that
// lands meanwhile is not lost.
func (c *Channel) retime() {
	_ = c.src.SetReadDeadline(time.Unix(1, 0))
	c.pw.Wake()
}

func (c *Channel) writeTimeout() time.Duration {
	if t := c.tun; t != nil && t.tunnelTO > 0 && t.established() {
		return t.tunnelTO
	}
	return c.wto
}

// armRead sets the source's read deadline to the last activity on the
// source side plus the timeout. Setting a deadline costs a timer update,
// so a deadline up to half a timeout early is kept: when it strikes,
// readExpired looks at the real last activity and the deadline moves.
//
// A direction that may park also needs to wake when it has been idle for
// parkAfter, so the deadline is the earlier of the two.
func (c *Channel) armRead() error {
	to := c.readTimeout()
	var target, slack int64
	if to > 0 {
		target, slack = c.srcClock.last.Load()+int64(to), int64(to)/2
	}
	if exp := c.analyseExpiry(); exp != 0 && (target == 0 || exp < target) {
		target, slack = exp, 0
	}
	if (c.mayPark() || c.idleBuf()) && c.analyseExpiry() == 0 {
		// (A direction whose analysers wait for their expiry does not
		// park: idleEnough says so.)
		if it := c.lastIn + int64(parkAfter); target == 0 || it < target {
			target = it
		}
		slack = min(slack, int64(parkAfter)/2)
		if to <= 0 {
			slack = int64(parkAfter) / 2
		}
	}
	if target == 0 {
		if c.rdl != 0 {
			c.rdl = 0
			_ = c.src.SetReadDeadline(time.Time{})
		}
		return c.checkStopped()
	}
	// rdl is -1 when a new deadline is forced.
	if c.rdl <= 0 || c.rdl > target || target-c.rdl > slack {
		c.rdl = target
		_ = c.src.SetReadDeadline(epoch.Add(time.Duration(target)))
	}
	if c.readTimeout() != to {
		// retime ran meanwhile: its past deadline may have landed before
		// ours. A strike then recomputes.
		c.rdl = -1
		_ = c.src.SetReadDeadline(time.Unix(1, 0))
	}
	return c.checkStopped()
}

func (c *Channel) armWrite() error {
	to := c.writeTimeout()
	if to <= 0 {
		if c.wdl != 0 {
			c.wdl = 0
			_ = c.dst.SetWriteDeadline(time.Time{})
		}
		return c.checkStopped()
	}
	target := c.wlast + int64(to)
	if c.wdl == 0 || c.wdl > target || target-c.wdl > int64(to)/2 {
		c.wdl = target
		_ = c.dst.SetWriteDeadline(epoch.Add(time.Duration(target)))
	}
	return c.checkStopped()
}

// checkStopped runs after a deadline is set: interrupt stores the flag
// before it sets its past deadline, so either the flag is seen here or the
// past deadline lands after ours.
func (c *Channel) checkStopped() error {
	if c.isStopped() {
		return errStopped
	}
	return nil
}

// readTimedOut decides, after the read deadline struck, whether the
// timeout really expired or activity moved it.
func (c *Channel) readTimedOut() error {
	if c.isStopped() {
		return errStopped
	}
	to := c.readTimeout()
	if to > 0 && mono() >= c.srcClock.last.Load()+int64(to) {
		// A direction that got the CPU only after its deadline may find
		// the bytes (or the end) it waited for already queued: the source
		// was not silent, the reader was late. Count that as activity and
		// read it, as an event loop would before it looked at its timers.
		if c.srcPending() {
			c.srcClock.touch(mono())
			c.rdl = -1
			return nil
		}
		c.setFlag(FlagReadTimeout)
		err := &OpError{Op: OpRead, Err: fmt.Errorf("%w after %v", ErrReadTimeout, to)}
		if t := c.tun; t != nil {
			t.readTimedOut(c, err)
			return errTimedOutShut
		}
		return err
	}
	c.rdl = -1 // force a new deadline
	return nil
}

// errTimedOutShut is what readTimedOut returns for a tunnel's direction:
// as in HAProxy, a read timeout ends the direction as its source's end
// of stream would (the destination's write side is shut once the bytes
// in flight have left), and the other direction goes on until it ends
// in its turn. The tunnel keeps the timeout as its cause.
var errTimedOutShut = errors.New("channel: read timeout, direction shut")

// srcPending reports whether a raw source has bytes or its end queued in
// the kernel, without taking them.
func (c *Channel) srcPending() bool {
	if c.srcRC == nil {
		return false
	}
	var pending bool
	var b [1]byte
	_ = c.srcRC.Control(func(fd uintptr) {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		pending = err == nil
	})
	return pending
}

func (c *Channel) writeTimedOut() error {
	if c.isStopped() {
		return errStopped
	}
	to := c.writeTimeout()
	if to > 0 && mono() >= c.wlast+int64(to) {
		c.setFlag(FlagWriteTimeout)
		return &OpError{Op: OpWrite, Err: fmt.Errorf("%w after %v", ErrWriteTimeout, to)}
	}
	c.wdl = -1
	return nil
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// recvSpace is the contiguous free space input may fill: the first free
// part, cut to the receive limit that keeps the rewrite reserve free for
// data still to analyse.
func (c *Channel) recvSpace() []byte {
	transit := int64(c.output) + c.toForward
	if transit > math.MaxInt32 {
		transit = -1
	}
	room := c.buf.RecvLimit(int(transit)) - c.buf.Len()
	if room <= 0 {
		return nil
	}
	f, _ := c.buf.Free()
	if len(f) > room {
		f = f[:room]
	}
	return f
}

// readCB runs inside the source's RawConn.Read: the buffer is borrowed
// only when the non-blocking read finds bytes, so a channel parked on the
// netpoller holds none. Reading here, rather than peeking first, costs no
// system call more than a plain Read.
func (c *Channel) readCB(fd uintptr) bool {
	borrowed := false
	if c.buf == nil {
		b, err := c.pool.Get()
		if err != nil {
			c.cbN, c.cbErr = 0, errNoBuffer
			return true
		}
		c.buf, c.output, borrowed = b, 0, true
	}
	p := c.recvSpace()
	if len(p) == 0 {
		c.cbN, c.cbErr = 0, ErrBufferFull
		return true
	}
	for {
		n, err := rawRead(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			if borrowed {
				c.putBuf()
			}
			c.waited = true
			return false
		}
		c.cbN, c.cbErr = int32(max(n, 0)), err
		return true
	}
}

// idleBuf reports whether the channel holds an empty buffer over a
// transforming source, which it gives back after parkAfter of silence.
func (c *Channel) idleBuf() bool {
	return c.srcRC == nil && c.buf != nil && c.buf.Len() == 0
}

// pastDeadline is a read deadline already gone: a read under it takes
// what the transport holds decoded and does not wait on the socket.
var pastDeadline = time.Unix(1, 0)

// recvXform reads once from a transport that transforms bytes (TLS). The
// socket's readiness says nothing about such a source (it may hold
// decoded bytes the socket no longer shows), so the buffer cannot be
// borrowed only when the socket has data, as readCB does. While the
// source streams, the read goes into the buffer the channel keeps; once
// the source has been silent for parkAfter the buffer goes back, and the
// channel then waits on a one-byte read into its scratch byte, holding
// nothing. When that byte comes it borrows a buffer, puts the byte first
// and adds what the transport decoded with it (the rest of the TLS
// record), under a deadline already past so that nothing waits.
func (c *Channel) recvXform() (int, error) {
	if c.buf != nil {
		p := c.recvSpace()
		if len(p) == 0 {
			return 0, ErrBufferFull
		}
		return c.src.Read(p)
	}
	n, err := c.src.Read(c.scratch[:])
	if n == 0 {
		return 0, err
	}
	b, gerr := c.pool.Get()
	if gerr != nil {
		if b, gerr = c.pool.GetWait(c.waitCtx()); gerr != nil {
			return 0, errStopped
		}
	}
	c.buf, c.output = b, 0
	p := c.recvSpace()
	p[0] = c.scratch[0]
	if err != nil || len(p) == 1 {
		return 1, err
	}
	_ = c.src.SetReadDeadline(pastDeadline)
	c.rdl = -1 // armRead sets the real one again
	m, err := c.src.Read(p[1:])
	if isTimeout(err) {
		err = nil
	}
	return 1 + m, err
}

// recv reads once from the source into the buffer, then accounts for it.
func (c *Channel) recv() error {
	var n int
	var err error
	c.waited = false
	for {
		if err = c.armRead(); err != nil {
			return err
		}
		if c.srcRC != nil {
			c.cbN, c.cbErr = 0, nil
			c.cbOp = cbRead
			err = c.srcRC.Read(c.cb)
			if err == nil {
				n, err = int(c.cbN), c.cbErr
				if n == 0 && err == nil {
					err = io.EOF
				}
			}
			if err == errNoBuffer {
				b, gerr := c.pool.GetWait(c.waitCtx())
				if gerr != nil {
					return errStopped
				}
				c.buf, c.output = b, 0
				c.waited = true
				continue
			}
		} else {
			// Whether the transport waited is not known: read the clock.
			c.waited = true
			n, err = c.recvXform()
			if err == errStopped {
				return err
			}
		}
		if isTimeout(err) && n == 0 {
			c.waited = true
			if c.analyseStrike() {
				return nil // the analysers decide on what they have
			}
			if terr := c.readTimedOut(); terr != nil {
				if terr == errTimedOutShut {
					c.eof()
					return nil
				}
				return terr
			}
			if c.idleBuf() && mono()-c.lastIn >= int64(parkAfter) {
				c.putBuf()
			}
			if c.idleEnough() {
				return errPark
			}
			continue
		}
		break
	}
	now := c.stamp()
	if n > 0 {
		_ = c.buf.Add(n)
		c.in.Add(int64(n))
		c.srcClock.touch(now)
		c.lastIn = now
		c.checkXfer(n)
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		c.eof()
	case errors.Is(err, ErrBufferFull):
		return &OpError{Op: OpAnalyse, Err: err}
	default:
		if n > 0 {
			// Bytes came with the error; forward them first, the error
			// comes back on the next read.
			return nil
		}
		return &OpError{Op: OpRead, Err: err}
	}
	return nil
}

func (c *Channel) eof() {
	c.setFlag(FlagShutR)
	if t := c.tun; t != nil {
		t.shut(t.sideOf(c))
	}
}

// checkXfer is HAProxy's streamer detection: reads that fill the space
// offered three times in a row mark the channel as streaming.
func (c *Channel) checkXfer(n int) {
	if c.splice != SpliceAuto || c.Flags()&FlagStreamer != 0 {
		return
	}
	if n >= c.buf.Size()/2 {
		c.streak++
		if c.streak >= 3 {
			c.setFlag(FlagStreamer)
		}
		return
	}
	c.streak = 0
}

// waitCtx is the context for waiting on a pool at its cap, done when the
// channel is stopped.
func (c *Channel) waitCtx() context.Context { return stopCtx{c} }

// stopCtx is a context done when the channel is stopped.
type stopCtx struct{ c *Channel }

func (stopCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (s stopCtx) Done() <-chan struct{}     { return s.c.stopChan() }
func (s stopCtx) Err() error {
	if s.c.isStopped() {
		return errStopped
	}
	return nil
}
func (stopCtx) Value(any) any { return nil }

// stopChan returns a channel closed once the channel is stopped, making
// it on first use. interrupt stores stopped before it looks for one, so a
// signal made concurrently is either seen there or sees stopped here.
func (c *Channel) stopChan() <-chan struct{} {
	s := c.stop.Load()
	if s == nil {
		s = &stopSignal{ch: make(chan struct{})}
		if !c.stop.CompareAndSwap(nil, s) {
			s = c.stop.Load()
		}
	}
	if c.isStopped() {
		s.close()
	}
	return s.ch
}

// analysis is what a channel's analysers still have to do: those not
// yet Done, in order, and their expiry (HAProxy's analyse_exp).
type analysis struct {
	list []Analyser
	// exp is when the analysers are called once more without new input,
	// on mono's clock, 0 for never; expired says it has passed (and exp
	// is 0 again), seen that the analysers were called since.
	exp           int64
	expired, seen bool
}

// SetAnalyseTimeout makes the analysers be called again once d has
// passed, even with no new input, where [Channel.AnalyseExpired] then
// reports true: an analyser waiting for bytes that may never come (an
// inspect delay) decides on what it has. It counts from now, replaces an
// earlier one not yet expired, and does nothing once the analysers are
// all Done or when d is not positive. Call it from an analyser or before
// Run.
func (c *Channel) SetAnalyseTimeout(d time.Duration) {
	if c.analysers == nil || d <= 0 || c.analysers.expired {
		return
	}
	c.analysers.exp = mono() + int64(d)
	c.rdl = -1 // armRead sets the deadline again
}

// AnalyseExpired reports whether the time SetAnalyseTimeout gave has
// passed.
func (c *Channel) AnalyseExpired() bool {
	return c.analysers != nil && c.analysers.expired
}

// InputFull reports whether the input fills all the room analysers may
// have in the buffer: waiting for more bytes is pointless.
func (c *Channel) InputFull() bool {
	return c.buf != nil && c.output == 0 && len(c.recvSpace()) == 0
}

// analyseExpiry returns the analysers' expiry, 0 for none.
func (c *Channel) analyseExpiry() int64 {
	if c.analysers == nil {
		return 0
	}
	return c.analysers.exp
}

// analyseStrike notes, after a read deadline struck, that the analysers'
// expiry has passed, and reports whether it has.
func (c *Channel) analyseStrike() bool {
	a := c.analysers
	if a == nil || a.exp == 0 || mono() < a.exp {
		return false
	}
	a.exp, a.expired, a.seen = 0, true, false
	c.rdl = -1
	return true
}

// analyse moves input to output: first what to_forward lets pass, then
// what the analysers decide, then everything once they are all Done.
func (c *Channel) analyse() error {
	input := c.InputLen()
	if c.toForward > 0 && input > 0 {
		adv := min(int64(input), c.toForward)
		c.output += int(adv)
		if c.toForward != Infinite {
			c.toForward -= adv
		}
		input -= int(adv)
	}
	for c.analysers != nil && (input > 0 || c.analysers.expired && !c.analysers.seen) && c.toForward == 0 {
		beforeOut, beforeLen := c.output, c.InputLen()
		c.analysers.seen = c.analysers.expired
		as := c.analysers.list
		v, err := as[0](c)
		if err != nil {
			return &OpError{Op: OpAnalyse, Err: err}
		}
		input = c.InputLen()
		if v == Done {
			as[0] = nil
			if as = as[1:]; len(as) == 0 {
				c.analysers = nil
			} else {
				c.analysers.list = as
			}
			continue
		}
		if v == Continue && (c.output != beforeOut || input != beforeLen || c.toForward != 0) {
			continue
		}
		// More, or Continue without progress.
		if c.ShutR() {
			return &OpError{Op: OpAnalyse, Err: ErrIncomplete}
		}
		if c.buf != nil && c.output == 0 && len(c.recvSpace()) == 0 {
			return &OpError{Op: OpAnalyse, Err: fmt.Errorf("%w (%d bytes)", ErrBufferFull, c.buf.Len())}
		}
		return nil
	}
	if c.analysers == nil {
		c.state.Or(stAnalysed)
		c.output += input
		c.toForward = Infinite
	}
	return nil
}

// stamp returns the time of what the channel just saw. A read or write
// that did not wait on the netpoller happened right after the previous
// one, so up to stampEvery of them in a row reuse the last clock read
// (like an event loop's clock, read once per wake) instead of paying for
// a new one each: on a VM a clock read costs about as much as the rest of
// the channel's own work per chunk. The time kept is never later than
// the event, and earlier by no more than a run of calls that did not
// wait (and however long the scheduler held the goroutine back among
// them).
func (c *Channel) stamp() int64 {
	if c.waited || c.fresh == 0 {
		c.now, c.fresh = mono(), stampEvery
		return c.now
	}
	c.fresh--
	return c.now
}

// flush writes the scheduled output to the destination.
func (c *Channel) flush() error {
	c.wlast = c.now // set by the read that brought the output
	for c.output > 0 {
		if err := c.armWrite(); err != nil {
			return err
		}
		n, err := c.write()
		if n > 0 {
			_ = c.buf.Del(n)
			c.output -= n
			c.out.Add(int64(n))
			now := c.stamp()
			c.wlast = now
			c.dstClock.touch(now)
		}
		if err != nil {
			if isTimeout(err) {
				if terr := c.writeTimedOut(); terr != nil {
					return terr
				}
				continue
			}
			return &OpError{Op: OpWrite, Err: err}
		}
	}
	return nil
}

// outChunk is the contiguous part of the output at the buffer's head.
func (c *Channel) outChunk() []byte {
	d1, _ := c.buf.Data()
	return d1[:min(len(d1), c.output)]
}

// rawCB is the callback of every RawConn call, doing what cbOp says.
func (c *Channel) rawCB(fd uintptr) bool {
	switch c.cbOp {
	case cbRead:
		return c.readCB(fd)
	case cbWrite:
		return c.writeCB(fd)
	case cbSpliceIn:
		return c.spliceInCB(fd)
	default:
		return c.spliceOutCB(fd)
	}
}

// write writes the output chunk (outChunk) once: straight to the socket
// of a raw destination, which net.Conn.Write would reach through several
// layers, noting whether it had to wait; through the transport otherwise.
func (c *Channel) write() (int, error) {
	c.waited = false
	if c.dstRC == nil {
		c.waited = true // not known
		return c.dst.Write(c.outChunk())
	}
	c.cbOp, c.cbN, c.cbErr = cbWrite, 0, nil
	err := c.dstRC.Write(c.cb)
	if err != nil {
		c.waited = true
		return 0, err
	}
	if c.cbErr != nil {
		return int(c.cbN), os.NewSyscallError("write", c.cbErr)
	}
	return int(c.cbN), nil
}

// writeCB runs inside the destination's RawConn.Write.
func (c *Channel) writeCB(fd uintptr) bool {
	for {
		n, err := rawWrite(fd, c.outChunk())
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.waited = true
			return false
		}
		c.cbN, c.cbErr = int32(max(n, 0)), err
		return true
	}
}

// spliceInCB runs inside the source's RawConn.Read: it borrows a pipe,
// splices what the socket holds into it, and gives the pipe back when the
// socket turns out empty, so a parked channel holds no pipe either.
func (c *Channel) spliceInCB(fd uintptr) bool {
	if c.pipe == nil {
		p, err := c.pipes.Get()
		if err != nil {
			c.cbN, c.cbErr = 0, errNoPipe
			if errors.Is(err, errors.ErrUnsupported) {
				c.cbErr = errNoSplice // no pipes on this system at all
			}
			return true
		}
		c.pipe = p
	}
	// Ask for as much as may pass, not for the pipe's nominal size: the
	// kernel stops when the pipe's slots are full, and one slot may hold
	// a whole page fragment of the socket's queue (often 32 KiB on
	// loopback), so a 64 KiB pipe can take several times that per call.
	want := maxSpliceAtOnce
	if c.toForward != Infinite && c.toForward < int64(want) {
		want = int(c.toForward)
	}
	n, err := c.pipe.SpliceFrom(int(fd), want)
	switch err {
	case nil:
		c.cbN, c.cbErr = int32(n), nil
		return true
	case unix.EAGAIN:
		// The pipe is drained before every splice in, so EAGAIN means the
		// socket is empty.
		if c.pipe.Len() == 0 {
			c.pipes.Put(c.pipe)
			c.pipe = nil
		}
		return false
	case unix.EINVAL, unix.ENOSYS, unix.EBADF:
		c.cbN, c.cbErr = 0, errNoSplice
		return true
	default:
		c.cbN, c.cbErr = 0, err
		return true
	}
}

func (c *Channel) spliceOutCB(fd uintptr) bool {
	n, err := c.pipe.SpliceTo(int(fd), c.pipe.Len())
	if err == unix.EAGAIN || (n == 0 && err == nil) {
		return false
	}
	c.cbN, c.cbErr = int32(n), err
	return true
}

// spliceOnce waits for the source, splices what it has into a pipe and
// from the pipe to the destination. The emptied pipe is kept for the next
// round: spliceInCB gives it back as soon as the source turns out empty,
// so it is held only while bytes stream, without a pool round trip per
// chunk.
func (c *Channel) spliceOnce() error {
	var n int
	for {
		if err := c.armRead(); err != nil {
			return err
		}
		c.cbOp, c.cbN, c.cbErr = cbSpliceIn, 0, nil
		err := c.srcRC.Read(c.cb)
		if err == nil {
			n, err = int(c.cbN), c.cbErr
		}
		switch {
		case err == nil:
		case err == errNoPipe:
			c.noPipe = true // the buffer path takes this round
			return nil
		case err == errNoSplice:
			c.noSplice = true
			c.release()
			return nil
		case isTimeout(err):
			terr := c.readTimedOut()
			// A strike can come before the callback ran at all, with the
			// emptied pipe of the last round still held.
			if c.pipe != nil && c.pipe.Len() == 0 {
				c.pipes.Put(c.pipe)
				c.pipe = nil
			}
			if terr == errTimedOutShut {
				c.eof()
				return nil
			}
			if terr != nil {
				return terr
			}
			if c.idleEnough() {
				return errPark
			}
			continue
		default:
			return &OpError{Op: OpRead, Err: err}
		}
		break
	}
	if n == 0 {
		c.eof()
		return nil
	}
	c.in.Add(int64(n))
	now := mono()
	c.srcClock.touch(now)
	c.lastIn = now
	if c.toForward != Infinite {
		c.toForward -= int64(n)
	}
	c.wlast = now
	for c.pipe.Len() > 0 {
		if err := c.armWrite(); err != nil {
			return err
		}
		c.cbOp, c.cbN, c.cbErr = cbSpliceOut, 0, nil
		err := c.dstRC.Write(c.cb)
		if err == nil {
			err = c.cbErr
		}
		if c.cbN > 0 {
			c.out.Add(int64(c.cbN))
			c.spliced.Add(int64(c.cbN))
			now := mono()
			c.wlast = now
			c.dstClock.touch(now)
		}
		if err != nil {
			if isTimeout(err) {
				if terr := c.writeTimedOut(); terr != nil {
					return terr
				}
				continue
			}
			return &OpError{Op: OpWrite, Err: err}
		}
	}
	return nil
}
