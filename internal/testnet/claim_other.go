//go:build !unix

package testnet

// portClaims does not coordinate ports between processes where there is
// no flock: every claim succeeds.
type portClaims struct{}

func openClaims() *portClaims        { return nil }
func (c *portClaims) claim(int) bool { return true }
func (c *portClaims) close()         {}
