package conn

// Listener returns the listener that accepted the connection, nil for a
// dialed one.
func (c *Conn) Listener() *Listener { return c.ln }

// Active returns how many connections the listener holds open now, the
// one being admitted included: HAProxy's dst_conn.
func (l *Listener) Active() int64 { return l.active.Load() }
