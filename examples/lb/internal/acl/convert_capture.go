package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// The converters capture-req(ID) and capture-res(ID), as HAProxy 2.6
// has them: the sample, as a string, goes into the frontend's request
// (response) capture slot ID, cut to the slot's length, where the log's
// %hr (%hs) and capture.req.hdr(ID) (capture.res.hdr(ID)) find it; the
// sample passes on whole. A slot the frontend lacks leaves no sample.

// CaptureSetter is a Context whose capture slots a converter may fill:
// SetCapture stores v, cut to the slot's length, in slot i of the
// request's (resp false) or the response's captures, and reports false
// when there is no such slot.
type CaptureSetter interface {
	SetCapture(resp bool, i int, v string) bool
}

func init() {
	for _, resp := range []bool{false, true} {
		name := "capture-req"
		if resp {
			name = "capture-res"
		}
		ctxConverters[name] = ctxConverter{ArgRequired, TypeStr, func(a []string) (CtxConvFunc, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("expects one capture slot number")
			}
			// A negative number is taken, as by HAProxy, and never
			// names a slot.
			id, err := strconv.Atoi(strings.TrimSpace(a[0]))
			if err != nil {
				return nil, fmt.Errorf("'%s' is not a capture slot number", a[0])
			}
			return func(c Context, s Sample) (Sample, bool) {
				cs, ok := c.(CaptureSetter)
				if !ok || id < 0 {
					return Sample{}, false
				}
				if s.Type != TypeStr {
					s = Str(s.String())
				}
				return s, cs.SetCapture(resp, id, s.Str)
			}, nil
		}}
	}
}
