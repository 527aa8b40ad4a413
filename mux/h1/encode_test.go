package h1

import (
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// TestStatusText checks the reason phrases of common and less common
// registered statuses, and "Unknown" for the rest.
func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{
		200: "OK", 404: "Not Found", 203: "Non-Authoritative Information", 418: "I'm a teapot",
		451: "Unavailable For Legal Reasons", 511: "Network Authentication Required", 299: "Unknown", 600: "Unknown",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestFieldCase: the names a FieldCase knows are written in its
// spelling, whatever their case, the framing fields included; the others
// as they are, and without one every name as it is.
func TestFieldCase(t *testing.T) {
	var m htx.Message
	m.SetRequest("POST", "", "h.test", "/")
	m.Add("X-Foo", "1")
	m.Add("x-other", "2")
	m.Flags |= htx.FlagContentLength
	m.ContentLength = 2
	fc := NewFieldCase(map[string]string{"X-FOO": "x-FoO", "content-length": "CONTENT-length", "host": "HOST"})
	got, _ := appendRequest(nil, &m, fc)
	want := "POST / HTTP/1.1\r\nHOST: h.test\r\nx-FoO: 1\r\nx-other: 2\r\nCONTENT-length: 2\r\n\r\n"
	if string(got) != want {
		t.Errorf("with a FieldCase: %q, want %q", got, want)
	}
	got, _ = AppendRequest(nil, &m)
	want = "POST / HTTP/1.1\r\nHost: h.test\r\nX-Foo: 1\r\nx-other: 2\r\nContent-Length: 2\r\n\r\n"
	if string(got) != want {
		t.Errorf("without: %q, want %q", got, want)
	}
}
