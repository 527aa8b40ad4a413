package h1

import "testing"

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
