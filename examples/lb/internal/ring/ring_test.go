package ring

import (
	"fmt"
	"testing"
)

func TestVarintBytes(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want int
	}{{0, 1}, {239, 1}, {240, 2}, {240 + 2047, 2}, {240 + 2048, 3}, {240 + 2048 + 262143, 3}, {240 + 2048 + 262144, 4}} {
		if got := varintBytes(c.n); got != c.want {
			t.Errorf("varintBytes(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func drain(rd *Reader) []string {
	msgs, _ := rd.Next(nil, 0)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m)
	}
	return out
}

// A ring keeps the newest messages that fit: each takes its length, one
// length byte (below 240) and one count byte, after one leading byte.
func TestRingDropsOldest(t *testing.T) {
	r := New(1 + 3*12) // room for exactly three 10-byte messages
	for i := 0; i < 5; i++ {
		if !r.Write([]byte(fmt.Sprintf("message-%02d", i))) {
			t.Fatalf("write %d refused", i)
		}
	}
	rd := r.NewReader(false)
	defer rd.Close()
	got := drain(rd)
	want := []string{"message-02", "message-03", "message-04"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kept %q, want %q", got, want)
	}
}

func TestRingRefusesTooLarge(t *testing.T) {
	r := New(10)
	if r.Write(make([]byte, 8)) {
		t.Fatal("a message needing the whole ring was taken")
	}
	if !r.Write(make([]byte, 7)) {
		t.Fatal("a message leaving one byte free was refused")
	}
}

// A reader waiting at the oldest message keeps it: the write fails
// rather than drop what the reader has yet to see.
func TestRingReaderHoldsOldest(t *testing.T) {
	r := New(1 + 2*12)
	r.Write([]byte("message-00"))
	rd := r.NewReader(false)
	r.Write([]byte("message-01"))
	if r.Write([]byte("message-02")) {
		t.Fatal("write dropped the message a reader waits for")
	}
	if got := drain(rd); fmt.Sprint(got) != "[message-00 message-01]" {
		t.Fatalf("reader got %q", got)
	}
	// Now at the end, the reader holds nothing back.
	if !r.Write([]byte("message-02")) {
		t.Fatal("write refused once the reader had read everything")
	}
	rd.Close()
	if !r.Write([]byte("message-03")) || !r.Write([]byte("message-04")) {
		t.Fatal("write refused with no reader")
	}
}

func TestRingSeekNewAndNotify(t *testing.T) {
	r := New(1000)
	r.Write([]byte("old"))
	rd := r.NewReader(true)
	defer rd.Close()
	msgs, wait := rd.Next(nil, 0)
	if len(msgs) != 0 {
		t.Fatalf("seek to new read %q", msgs)
	}
	select {
	case <-wait:
		t.Fatal("notified before any write")
	default:
	}
	r.Write([]byte("new"))
	<-wait
	if got := drain(rd); fmt.Sprint(got) != "[new]" {
		t.Fatalf("got %q", got)
	}
	r.Write([]byte("a"))
	r.Write([]byte("b"))
	if msgs, _ := rd.Next(nil, 1); len(msgs) != 1 || string(msgs[0]) != "a" {
		t.Fatalf("Next with max 1 gave %q", msgs)
	}
	if r.Len() != 4 {
		t.Fatalf("Len = %d", r.Len())
	}
}
