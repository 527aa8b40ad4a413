// Command spoa is the SPOE agent behind the HTTP benchmark's SPOE runs
// (bench/http/run.sh with SPOE=1): it completes each HELLO and answers
// every NOTIFY with set-var(sess.score) 90, so a balancer's cost of an
// offloaded decision per request can be compared. It speaks just enough
// of SPOP 2.0 for that: the frame length, type and identifiers.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"sync"
)

// AGENT-HELLO payload: version "2.0", max-frame-size 16380 (uint32),
// capabilities "pipelining,async".
var helloPayload = func() []byte {
	b := []byte{101, 0, 0, 0, 1, 0, 0}
	b = appendKV(b, "version", 8, []byte("2.0"))
	b = appendKV(b, "max-frame-size", 3, varint(16380))
	return appendKV(b, "capabilities", 8, []byte("pipelining,async"))
}()

func appendKV(b []byte, key string, typ byte, val []byte) []byte {
	b = append(append(b, varint(uint64(len(key)))...), key...)
	b = append(b, typ)
	if typ == 8 {
		b = append(b, varint(uint64(len(val)))...)
	}
	return append(b, val...)
}

func varint(n uint64) []byte {
	if n < 240 {
		return []byte{byte(n)}
	}
	b := []byte{byte(n) | 240}
	n = (n - 240) >> 4
	for n >= 128 {
		b = append(b, byte(n)|128)
		n = (n - 128) >> 7
	}
	return append(b, byte(n))
}

// readVarint returns the integer at the start of b and its length.
func readVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("short varint")
	}
	v := uint64(b[0])
	if v < 240 {
		return v, 1, nil
	}
	shift := uint(4)
	for i := 1; i < len(b) && shift < 64; i++ {
		v += uint64(b[i]) << shift
		if b[i] < 128 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errors.New("bad varint")
}

// ack is the ACK of stream sid, frame fid: set-var(sess.score) int32 90.
func ack(out []byte, sid, fid uint64) []byte {
	start := len(out)
	out = append(out, 0, 0, 0, 0, 103, 0, 0, 0, 1)
	out = append(append(out, varint(sid)...), varint(fid)...)
	out = append(out, 1, 3, 1) // set-var, 3 arguments, scope sess
	out = append(append(out, 5), "score"...)
	out = append(out, 2, 90) // int32 90
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out
}

func serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 32<<10)
	w := bufio.NewWriterSize(c, 32<<10)
	var hdr [4]byte
	buf := make([]byte, 16384)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < 5 || n > len(buf) {
			return
		}
		f := buf[:n]
		if _, err := io.ReadFull(r, f); err != nil {
			return
		}
		var out []byte
		switch f[0] {
		case 1: // HAPROXY-HELLO
			out = binary.BigEndian.AppendUint32(nil, uint32(len(helloPayload)))
			out = append(out, helloPayload...)
		case 3: // NOTIFY
			sid, k, err := readVarint(f[5:])
			if err != nil {
				return
			}
			fid, _, err := readVarint(f[5+k:])
			if err != nil {
				return
			}
			out = ack(nil, sid, fid)
		default: // HAPROXY-DISCONNECT, or anything else: leave
			return
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		// Flush once nothing more is waiting: pipelined frames share
		// a write.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:12345", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(c)
		}()
	}
	wg.Wait()
}
