//go:build !unix

package conn

import (
	"errors"
	"net"
)

func setTOS(net.Conn, int, bool) error {
	return errors.New("conn: set-tos is only supported on Unix systems")
}
