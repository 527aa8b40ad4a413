package mux_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux"
	_ "github.com/proxyblocks/proxyblocks/mux/pt"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// fakeMux stands in for the HTTP muxes so selection can be tested on its
// own; it records which entry built it.
type fakeMux struct{ name string }

func (f *fakeMux) Name() string                               { return f.name }
func (f *fakeMux) Accept(context.Context) (mux.Stream, error) { return nil, nil }
func (f *fakeMux) Open(context.Context) (mux.Stream, error)   { return nil, nil }
func (f *fakeMux) AvailStreams() int                          { return 0 }
func (f *fakeMux) UsedStreams() int                           { return 0 }
func (f *fakeMux) Close() error                               { return nil }

func factory(name string) mux.Factory {
	return func(xprt.Transport, mux.Side) (mux.Mux, error) { return &fakeMux{name: name}, nil }
}

func init() {
	// Registered in the order HAProxy registers its HTTP muxes.
	mux.Register(mux.Entry{Name: "h1", Modes: mux.ModeHTTP, Sides: mux.SideFront | mux.SideBack, New: factory("h1")})
	mux.Register(mux.Entry{Name: "", ALPN: "http/1.1", Modes: mux.ModeHTTP, Sides: mux.SideFront | mux.SideBack, New: factory("h1-default")})
	mux.Register(mux.Entry{Name: "h2", ALPN: "h2", Modes: mux.ModeHTTP, Sides: mux.SideFront | mux.SideBack, New: factory("h2")})
	mux.Register(mux.Entry{Name: "fcgi", Modes: mux.ModeHTTP, Sides: mux.SideBack, New: factory("fcgi")})
}

func build(t *testing.T, e *mux.Entry) string {
	t.Helper()
	m, err := e.New(nil, mux.SideFront)
	require.NoError(t, err)
	return m.Name()
}

func TestBest(t *testing.T) {
	cases := []struct {
		name        string
		proto, alpn string
		side        mux.Side
		mode        mux.Mode
		want        string
	}{
		{"tcp frontend ignores h2 alpn", "", "h2", mux.SideFront, mux.ModeTCP, "pt"},
		{"tcp backend default", "", "", mux.SideBack, mux.ModeTCP, "pt"},
		{"tcp forced none", "none", "", mux.SideFront, mux.ModeTCP, "pt"},
		{"http alpn h2", "", "h2", mux.SideFront, mux.ModeHTTP, "h2"},
		{"http alpn http/1.1", "", "http/1.1", mux.SideFront, mux.ModeHTTP, "h1-default"},
		{"http no alpn falls back to default", "", "", mux.SideFront, mux.ModeHTTP, "h1-default"},
		{"http unknown alpn falls back", "", "spdy/3", mux.SideBack, mux.ModeHTTP, "h1-default"},
		{"http forced h2 beats alpn", "h2", "http/1.1", mux.SideBack, mux.ModeHTTP, "h2"},
		{"fcgi on back side", "fcgi", "", mux.SideBack, mux.ModeHTTP, "fcgi"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := mux.Best(c.proto, c.alpn, c.side, c.mode)
			require.NoError(t, err)
			require.Equal(t, c.want, build(t, e))
		})
	}
}

func TestBestRefuses(t *testing.T) {
	_, err := mux.Best("fcgi", "", mux.SideFront, mux.ModeHTTP)
	require.ErrorIs(t, err, mux.ErrNoMux)
	require.Contains(t, err.Error(), `proto "fcgi"`)
	_, err = mux.Best("h2", "", mux.SideFront, mux.ModeTCP)
	require.ErrorIs(t, err, mux.ErrNoMux)
	_, err = mux.Best("", "", mux.SideFront, 0)
	require.ErrorIs(t, err, mux.ErrNoMux)
}

func TestParseModeAndNames(t *testing.T) {
	m, err := mux.ParseMode("http")
	require.NoError(t, err)
	require.Equal(t, mux.ModeHTTP, m)
	_, err = mux.ParseMode("health")
	require.ErrorContains(t, err, `"health"`)
	require.Equal(t, "tcp|http", (mux.ModeTCP | mux.ModeHTTP).String())
	require.Equal(t, "front|back", (mux.SideFront | mux.SideBack).String())
	require.Equal(t, "none", mux.Side(0).String())
	names := map[string]bool{}
	for _, e := range mux.Entries() {
		names[e.Name] = true
	}
	require.True(t, names["none"] && names["h2"])
}

func TestRegisterRejectsIncompleteEntry(t *testing.T) {
	require.Panics(t, func() { mux.Register(mux.Entry{Name: "bad"}) })
}
