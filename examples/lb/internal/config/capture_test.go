package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The capture slots come in declaration order, whichever line reserves
// them: header captures, declare capture, http-request capture ... len.
func TestCaptureActionSlots(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`frontend f
    mode http
    http-request capture req.hdr(x-id),lower len 6
    capture request header Host len 15
    declare capture request len 8
    http-request capture path id 2 if { path_beg /a }
    http-request capture str(x) id 9
    declare capture response len 4
    capture response header X-Srv len 3
    http-response capture res.hdr(x-srv) id 1
    http-after-response capture status id 0
    http-request capture url len 5x
    http-request capture str(y) id -1
    http-request capture str(z) id 8
    declare capture request len 3 extra
    declare capture request len 3
    declare capture request len 3
    declare capture request len 3
    declare capture request len 3
    declare capture request len 3
    default_backend b
` + feTimeout + `backend b
    mode http
    http-request capture req.hdr(x) id 12
    http-response capture res.hdr(x) id 7
` + beTimeouts)})
	require.NoError(t, err)
	require.Equal(t, []string{"frontend 'f' has no 'bind' directive. Please declare it as a backend if this was intended."}, cfg.Warnings,
		"haproxy ignores words after the length without a word")
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, []HeaderCapture{{"", 6}, {"Host", 15}, {"", 8}, {"", 5}, {"", 3}, {"", 3}, {"", 3}, {"", 3}, {"", 3}, {"", 3}}, h.CaptureRequest)
	require.Equal(t, []HeaderCapture{{"", 4}, {"X-Srv", 3}}, h.CaptureResponse)
	rr := h.RequestRules
	require.Equal(t, "capture", rr[0].Action)
	require.Equal(t, "req.hdr(x-id),lower", rr[0].Value)
	require.Equal(t, 0, rr[0].Slot)
	require.Equal(t, 2, rr[1].Slot)
	require.NotNil(t, rr[1].Cond)
	require.Equal(t, 9, rr[2].Slot, "slots declared after the rule count")
	require.Equal(t, 3, rr[3].Slot, "'len 5x' reads as C's atoi does")
	require.Equal(t, -1, rr[4].Slot, "a negative id is accepted and names no slot")
	require.Equal(t, 1, h.ResponseRules[0].Slot)
	require.Equal(t, 0, h.AfterResponseRules[0].Slot)
	// A backend's ids name the slots of the frontend in front of it.
	b := cfg.Proxy("b", KindBackend).HTTP
	require.Equal(t, 12, b.RequestRules[0].Slot)
	require.Equal(t, 7, b.ResponseRules[0].Slot)
}

func TestSetTimeoutAction(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`listen l
    mode http
    http-request set-timeout server 150ms if { path /short }
    http-request set-timeout tunnel 2m
    http-request set-timeout server req.hdr(x-t),add(5)
    http-request set-timeout tunnel 1500
backend b
    mode http
    http-request set-timeout server 5s
`)})
	require.NoError(t, err)
	rr := cfg.Proxy("l", KindListen).HTTP.RequestRules
	require.Equal(t, "set-timeout", rr[0].Action)
	require.Equal(t, "server", rr[0].Name)
	require.Equal(t, 150*time.Millisecond, rr[0].Timeout)
	require.Empty(t, rr[0].Value)
	require.NotNil(t, rr[0].Cond)
	require.Equal(t, "tunnel", rr[1].Name)
	require.Equal(t, 2*time.Minute, rr[1].Timeout)
	require.Equal(t, "req.hdr(x-t),add(5)", rr[2].Value)
	require.Zero(t, rr[2].Timeout)
	require.Equal(t, 1500*time.Millisecond, rr[3].Timeout, "a bare number is milliseconds")
	require.Equal(t, 5*time.Second, cfg.Proxy("b", KindBackend).HTTP.RequestRules[0].Timeout)
}

// Every refused line is reported at its file:line with the keyword, the
// way HAProxy 2.6 words it.
func TestCaptureAndSetTimeoutErrors(t *testing.T) {
	const fe = "frontend f\n  mode http\n"
	const li = "listen l\n  mode http\n"
	for _, c := range []struct {
		text, kw, msg string
		line          int
		sentinel      error
	}{
		{li + "  http-request capture req.hdr(x)\n", "http-request", "'capture' expects <expression> [ 'len' <length> | id <idx> ]", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len\n", "http-request", "'capture' expects <expression> [ 'len' <length> | id <idx> ]", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len if TRUE\n", "http-request", "'capture' expects <expression>", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) foo 3\n", "http-request", "expects 'len' or 'id', found 'foo'", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len 0\n", "http-request", "length must be > 0", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len x\n", "http-request", "length must be > 0", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len -3\n", "http-request", "length must be > 0", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) id x\n", "http-request", "cannot parse id 'x'", 3, ErrBadValue},
		{li + "  http-request capture req.hdr(x) len 3 foo\n", "http-request", "unexpected 'foo'", 3, ErrBadValue},
		{li + "  http-request capture nosuch(x) len 3\n", "http-request", "nosuch", 3, ErrBadValue},
		{li + "  http-request capture res.hdr(x) len 3\n", "http-request", "fetch method 'res.hdr(x)' extracts information from 'HTTP response headers', none of which is available here", 3, ErrBadValue},
		{li + "  http-request capture status id 0\n", "http-request", "extracts information from 'HTTP response'", 3, ErrBadValue},
		{li + "  http-response capture path id 0\n", "http-response", "fetch method 'path' extracts information from 'HTTP request headers'", 3, ErrBadValue},
		{li + "  http-response capture res.hdr(x) len 3\n", "http-response", "expects 'id', found 'len'", 3, ErrBadValue},
		{li + "  http-response capture res.hdr(x)\n", "http-response", "'capture' expects <expression> id <idx>", 3, ErrBadValue},
		{"backend b\n  mode http\n  http-request capture req.hdr(x) len 3\n", "http-request", "proxy 'b' has no frontend capability", 3, ErrBadValue},
		{fe + "  http-request capture req.hdr(x) id 0\n", "http-request", "frontend 'f': unable to find capture id '0' referenced by http-request capture rule", 3, ErrReference},
		{fe + "  declare capture request len 2\n  http-request capture req.hdr(x) id 1\n", "http-request", "unable to find capture id '1'", 4, ErrReference},
		{fe + "  capture response header X len 2\n  http-response capture res.hdr(x) id 1\n", "http-response", "unable to find capture id '1' referenced by http-response capture rule", 4, ErrReference},
		{fe + "  http-after-response capture res.hdr(x) id 3\n", "http-after-response", "unable to find capture id '3'", 3, ErrReference},
		{fe + "  declare\n", "declare", "'declare' needs a second keyword that specify the type of declaration ('capture')", 3, ErrBadValue},
		{fe + "  declare foo\n", "declare", "unknown declaration type 'foo' (supports 'capture')", 3, ErrBadValue},
		{fe + "  declare capture\n", "declare", "'declare capture' requires a direction ('request' or 'response')", 3, ErrBadValue},
		{fe + "  declare capture foo len 3\n", "declare", "'declare capture' requires a direction ('request' or 'response')", 3, ErrBadValue},
		{fe + "  declare capture request\n", "declare", "'declare capture' requires a capture length ('len')", 3, ErrBadValue},
		{fe + "  declare capture request foo 3\n", "declare", "'declare capture' requires a capture length ('len')", 3, ErrBadValue},
		{fe + "  declare capture request len\n", "declare", "'len' requires a numeric value that represents the capture length", 3, ErrBadValue},
		{fe + "  declare capture request len 5x\n", "declare", "cannot parse the length '5x'", 3, ErrBadValue},
		{fe + "  declare capture response len 0\n", "declare", "length must be > 0", 3, ErrBadValue},
		{fe + "  declare capture response len -1\n", "declare", "length must be > 0", 3, ErrBadValue},
		{"backend b\n  declare capture request len 3\n", "declare", "'declare' not allowed in 'backend' section", 2, ErrMisplaced},
		{"defaults\n  declare capture request len 3\n", "declare", "'declare' not allowed in 'defaults' section", 2, ErrMisplaced},
		{fe + "  http-request set-timeout server 1s\n", "http-request", "'set-timeout': proxy 'f' has no backend capability", 3, ErrBadValue},
		{li + "  http-request set-timeout client 1s\n", "http-request", "'set-timeout' rule supports 'server'/'tunnel' (got 'client')", 3, ErrBadValue},
		{li + "  http-request set-timeout server\n", "http-request", "'set-timeout' expects exactly 2 arguments", 3, ErrBadValue},
		{li + "  http-request set-timeout server if TRUE\n", "http-request", "'set-timeout' expects exactly 2 arguments", 3, ErrBadValue},
		{li + "  http-request set-timeout server 1s 2s\n", "http-request", "unexpected '2s'", 3, ErrBadValue},
		{li + "  http-request set-timeout server 0\n", "http-request", "null value is not valid for a 'set-timeout server' rule", 3, ErrBadValue},
		{li + "  http-request set-timeout tunnel 0s\n", "http-request", "null value is not valid for a 'set-timeout tunnel' rule", 3, ErrBadValue},
		{li + "  http-request set-timeout server 10us\n", "http-request", "timer underflow in argument '10us'", 3, ErrBadValue},
		{li + "  http-request set-timeout server 3000000000\n", "http-request", "timer overflow in argument '3000000000' to rule 'set-timeout server' (maximum value is 2147483647 ms or ~24.8 days)", 3, ErrBadValue},
		{li + "  http-request set-timeout server 1x\n", "http-request", "unexpected character 'x' in rule 'set-timeout server'", 3, ErrBadValue},
		{li + "  http-request set-timeout server foo(1)\n", "http-request", "unexpected character 'f' in rule 'set-timeout server'", 3, ErrBadValue},
		{li + "  http-response set-timeout server 1s\n", "http-response", "'set-timeout' is an 'http-request' action", 3, ErrUnknownKeyword},
		{li + "  http-after-response set-timeout server 1s\n", "http-after-response", "'set-timeout' is an 'http-request' action", 3, ErrUnknownKeyword},
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(c.text)})
		require.Error(t, err, c.text)
		var e *Error
		require.True(t, errors.As(err, &e), c.text)
		require.Equal(t, Pos{File: "t.cfg", Line: c.line}, e.Pos, c.text)
		require.Equal(t, c.kw, e.Keyword, c.text)
		require.ErrorIs(t, err, c.sentinel, c.text)
		require.Contains(t, err.Error(), c.msg, c.text)
	}
}
