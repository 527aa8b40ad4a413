package testnet

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"time"
)

// CheckEcho writes data on c, ends it with closeWrite (c's own
// CloseWrite when nil), reads until the end of the stream and checks that
// the very bytes came back, as an echo server behind a proxy would send
// them. The error starts with what (a connection's name), then says how
// many bytes went each way and when, counted by since, so that a test
// moving many connections at once can tell which one failed and how.
func CheckEcho(c net.Conn, data []byte, closeWrite func() error, what string, since func() time.Duration) error {
	if closeWrite == nil {
		cw, ok := c.(interface{ CloseWrite() error })
		if !ok {
			return fmt.Errorf("%s: %T cannot half-close", what, c)
		}
		closeWrite = cw.CloseWrite
	}
	want := sha256.Sum256(data)
	type wres struct {
		n    int
		err  error
		done time.Duration
	}
	werr := make(chan wres, 1)
	go func() {
		n, err := c.Write(data)
		if err == nil {
			err = closeWrite()
		}
		werr <- wres{n, err, since()}
	}()
	h := sha256.New()
	var first time.Duration
	got, rerr := io.Copy(h, readFunc(func(p []byte) (int, error) {
		n, err := c.Read(p)
		if n > 0 && first == 0 {
			first = since()
		}
		return n, err
	}))
	ended := since()
	if rerr != nil {
		_ = c.Close() // unblocks the writer
	}
	w := <-werr
	where := fmt.Sprintf("%s: wrote %d of %d bytes by %v, read %d (first at %v, end at %v)",
		what, w.n, len(data), w.done, got, first, ended)
	match := bytes.Equal(h.Sum(nil), want[:])
	switch {
	case rerr != nil:
		return fmt.Errorf("%s: read: %w (write: %v)", where, rerr, w.err)
	case w.err != nil:
		return fmt.Errorf("%s: write: %w", where, w.err)
	case got != int64(len(data)) || !match:
		return fmt.Errorf("%s: sha256 match %v", where, match)
	}
	return nil
}

// readFunc hides everything but Read, so io.Copy takes no shortcut.
type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
