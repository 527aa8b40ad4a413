package main

import (
	"net"
	"os"
)

// sdNotify sends state to the service manager's notification socket
// ($NOTIFY_SOCKET), as systemd's sd_notify does, for -Ws: "READY=1" once
// lb serves, "RELOADING=1" while it reloads, "STOPPING=1" when it stops.
// Without the variable it does nothing; a socket that does not answer is
// not lb's failure, and is ignored.
func sdNotify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		// An abstract socket: a leading NUL byte.
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
