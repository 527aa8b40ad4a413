package balancer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidHostName(t *testing.T) {
	for host, want := range map[string]bool{
		"a.example": true, "a.example.": true, "has space.example": true, "127.0.0.1": true,
		strings.Repeat("l", 63) + ".example": true,
		"":                                   false, ".": false, "a..example": false, ".a": false,
		strings.Repeat("l", 64) + ".example": false,
		strings.Repeat("a.", 127) + "ab":     false,
	} {
		require.Equal(t, want, validHostName(host), host)
	}
}
