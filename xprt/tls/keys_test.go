package tls_test

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// keysFromLog reads an NSS key log into the fields it fills.
func keysFromLog(t *testing.T, log string) (k xprt.TLSKeys) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		b, err := hex.DecodeString(f[2])
		require.NoError(t, err)
		switch f[0] {
		case "CLIENT_RANDOM":
			k.MasterSecret = b
		case "CLIENT_HANDSHAKE_TRAFFIC_SECRET":
			k.ClientHandshakeTrafficSecret = b
		case "SERVER_HANDSHAKE_TRAFFIC_SECRET":
			k.ServerHandshakeTrafficSecret = b
		case "CLIENT_TRAFFIC_SECRET_0":
			k.ClientTrafficSecret0 = b
		case "SERVER_TRAFFIC_SECRET_0":
			k.ServerTrafficSecret0 = b
		}
	}
	return k
}

// want is what the client of a connection knows of its keys: its key
// log, the randoms and the TLS 1.2 session id of the hellos it saw;
// master is the secret of a resumed TLS 1.2 session, which logs none.
func want(t *testing.T, log string, w *testnet.Tap, client bool, v uint16, master []byte) xprt.TLSKeys {
	t.Helper()
	k := keysFromLog(t, log)
	chIn, shIn := &w.Out, &w.In
	if !client {
		chIn, shIn = &w.In, &w.Out
	}
	k.ClientRandom, _ = testnet.HelloIDs(t, chIn.Bytes(), 1)
	var sid []byte
	k.ServerRandom, sid = testnet.HelloIDs(t, shIn.Bytes(), 2)
	if v == stdtls.VersionTLS12 {
		k.SessionID = sid
		if k.MasterSecret == nil {
			k.MasterSecret = master
		}
	}
	return k
}

func same(t *testing.T, want xprt.TLSKeys, got *xprt.TLSKeys, msg string) {
	t.Helper()
	require.NotNil(t, got, msg)
	require.Len(t, got.ClientRandom, 32, msg)
	require.Len(t, got.ServerRandom, 32, msg)
	if want.SessionID == nil {
		require.Nil(t, got.SessionID, msg)
	} else {
		require.NotNil(t, got.SessionID, msg)
	}
	want.SessionID = bytes.Clone(want.SessionID)
	g := *got
	if len(g.SessionID) == 0 && len(want.SessionID) == 0 {
		g.SessionID, want.SessionID = nil, nil
	}
	require.Equal(t, want, g, msg)
}

// An accepting conn with CaptureKeys holds what its client logged and
// saw: the randoms (the ServerHello's after a HelloRetryRequest), the TLS
// 1.2 session id and master secret (the session's on a resumption), the
// TLS 1.3 secrets; without it, none.
func TestCaptureKeysInbound(t *testing.T) {
	p := newPKI(t)
	crt := p.leaf("a.pem", leafOpts{cn: "a.test", dns: []string{"a.test"}})
	for _, capture := range []bool{true, false} {
		// P-256 only: a TLS 1.3 client offering X25519 first is asked
		// to retry.
		in, err := ptls.NewInbound(ptls.BindConfig{Crt: []string{crt}, CaptureKeys: capture, Curves: []stdtls.CurveID{stdtls.CurveP256}}, nil)
		require.NoError(t, err)
		s := serve(t, in, "")
		for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
			cache := stdtls.NewLRUClientSessionCache(1)
			var master []byte
			for i := range 2 {
				raw, err := net.Dial("tcp", s.addr)
				require.NoError(t, err)
				w := &testnet.Tap{Conn: raw}
				var log bytes.Buffer
				c := stdtls.Client(w, &stdtls.Config{ServerName: "a.test", InsecureSkipVerify: true, MinVersion: v, MaxVersion: v, KeyLogWriter: &log, ClientSessionCache: cache})
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = bufio.NewReader(c).ReadString('\n')
				require.NoError(t, err)
				_ = c.Close()
				info := testnet.Signalled(t, s.infos, "the handshake")
				require.Equal(t, i == 1, info.Resumed)
				if !capture {
					require.Nil(t, info.Keys)
					continue
				}
				k := want(t, log.String(), w, true, v, master)
				same(t, k, info.Keys, ptls.VersionName(v))
				master = k.MasterSecret
			}
		}
	}
}

// A dialing conn with CaptureKeys holds what the server it reached
// logged and saw.
func TestCaptureKeysOutbound(t *testing.T) {
	p := newPKI(t)
	crt := p.leaf("s.pem", leafOpts{cn: "s.test", dns: []string{"s.test"}})
	cert, err := ptls.LoadCertificate(crt)
	require.NoError(t, err)
	type seen struct {
		log string
		w   *testnet.Tap
	}
	seenc := make(chan seen, 4)
	for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		// One ticket key for all the server's conns, so that they
		// resume each other's sessions.
		base := &stdtls.Config{Certificates: []stdtls.Certificate{cert.Cert}, MaxVersion: v, CurvePreferences: []stdtls.CurveID{stdtls.CurveP256}}
		base.SetSessionTicketKeys([][32]byte{{1}})
		ln := testnet.Listen(t)
		t.Cleanup(testnet.Accept(ln, func(raw net.Conn) {
			w := &testnet.Tap{Conn: raw}
			var log bytes.Buffer
			cfg := base.Clone()
			cfg.KeyLogWriter = &log
			c := stdtls.Server(w, cfg)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if c.Handshake() != nil {
				return
			}
			// A copy: the conn goes on writing.
			cp := &testnet.Tap{}
			cp.In.Write(w.In.Bytes())
			cp.Out.Write(w.Out.Bytes())
			seenc <- seen{log.String(), cp}
			_, _ = c.Write([]byte("hi\n"))
			_, _ = c.Read(make([]byte, 1))
		}))
		o, err := ptls.NewOutbound(ptls.ServerConfig{Verify: ptls.VerifyNone, MaxVersion: v, CaptureKeys: true}, nil)
		require.NoError(t, err)
		var master []byte
		for i := range 2 {
			raw, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			c := o.Client(raw)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			require.NoError(t, c.Handshake(ctx))
			cancel()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			info := c.Info()
			_ = c.Close()
			require.Equal(t, i == 1, info.Resumed)
			sv := testnet.Signalled(t, seenc, "the server's handshake")
			k := want(t, sv.log, sv.w, false, v, master)
			same(t, k, info.Keys, ptls.VersionName(v))
			master = k.MasterSecret
		}
	}
}
