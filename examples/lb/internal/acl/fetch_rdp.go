package acl

import "bytes"

// The RDP cookie a Remote Desktop client sends in its first packet (an
// X.224 connection request carrying "Cookie: NAME=VALUE\r\n" after an
// 11-byte header), as HAProxy reads it: req.rdp_cookie([NAME]) returns
// the value (of the named cookie, or of any), req.rdp_cookie_cnt([NAME])
// 1 when there is one and 0 when not; with too few bytes to tell, both
// wait for more. wait_end holds once the inspect delay is over.

// RDPCookie finds the RDP cookie named name (any when name is empty) at
// the start of b. It returns the value; short reports that b ends before
// the cookie could be told apart, so more bytes may yet bring it.
func RDPCookie(b []byte, name string) (value []byte, short bool) {
	if len(b) <= 11 {
		return nil, true
	}
	d := b[11:]
	if len(d) <= 7 {
		return nil, true
	}
	if !bytes.EqualFold(d[:7], []byte("Cookie:")) {
		return nil, false
	}
	d = d[7:]
	for len(d) > 0 && d[0] == ' ' {
		d = d[1:]
	}
	if name != "" {
		if len(d) <= len(name) {
			return nil, true
		}
		if d[len(name)] != '=' || !bytes.EqualFold(d[:len(name)], []byte(name)) {
			return nil, false
		}
		d = d[len(name)+1:]
	} else {
		i := 0
		for i < len(d) && d[i] != '=' {
			if d[i] == '\r' || d[i] == '\n' {
				return nil, false
			}
			i++
		}
		if i == len(d) {
			return nil, true
		}
		d = d[i+1:]
	}
	end := bytes.IndexByte(d, '\r')
	if end < 0 || end+1 >= len(d) {
		return nil, true
	}
	if d[end+1] != '\n' {
		return nil, false
	}
	return d[:end], false
}

func init() {
	rdp := func(name string, cnt bool) {
		t := TypeStr
		if cnt {
			t = TypeInt
		}
		RegisterFetch(Fetch{Name: name, Type: t, Arg: ArgOptional, Compile: func(cookie string) (FetchFunc, error) {
			return func(c Context) (Sample, bool) {
				cc, ok := c.(ContentContext)
				if !ok {
					return Sample{}, false
				}
				b, final := cc.Payload()
				v, short := RDPCookie(b, cookie)
				if short {
					if !final {
						cc.MayChange()
					}
					return Sample{}, false
				}
				if cnt {
					n := int64(0)
					if v != nil {
						n = 1
					}
					return Int(n), true
				}
				if v == nil {
					return Sample{}, false
				}
				return Str(string(v)), true
			}, nil
		}})
	}
	rdp("req.rdp_cookie", false)
	rdp("rdp_cookie", false)
	rdp("req.rdp_cookie_cnt", true)
	rdp("rdp_cookie_cnt", true)
	RegisterKeyword("req_rdp_cookie", "req.rdp_cookie", "")
	RegisterKeyword("req_rdp_cookie_cnt", "req.rdp_cookie_cnt", "")
	RegisterFetch(Fetch{Name: "wait_end", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(ContentContext)
		if !ok {
			return Sample{}, false
		}
		_, final := cc.Payload()
		if rc, ok := c.(ResponseContentContext); ok {
			// In response rules, the response's inspect delay.
			if _, rfinal, in := rc.ResponsePayload(); in {
				final = rfinal
			}
		}
		if !final {
			cc.MayChange()
			return Sample{}, false
		}
		return Bool(true), true
	})})
}
