package balancer

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// SRV records are keyed by the xxHash of their targets.
func TestSRVRecordKey(t *testing.T) {
	// haproxy's order of two entries, as observed: by the hash of
	// their targets in label form.
	a, b := srvRecord{target: "a.svc.test"}, srvRecord{target: "b.svc.test"}
	require.Less(t, b.key(), a.key())
}

// An SRV answer gives its records and, from the additional section,
// their targets' addresses; a cut message is invalid.
func TestParseSRVAnswer(t *testing.T) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true})
	b.EnableCompression()
	name := dnsmessage.MustNewName("_x._tcp.example.")
	require.NoError(t, b.StartQuestions())
	require.NoError(t, b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET}))
	require.NoError(t, b.StartAnswers())
	hdr := dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET, TTL: 5}
	require.NoError(t, b.SRVResource(hdr, dnsmessage.SRVResource{Priority: 1, Weight: 300, Port: 8080, Target: dnsmessage.MustNewName("a.example.")}))
	require.NoError(t, b.SRVResource(hdr, dnsmessage.SRVResource{Priority: 1, Weight: 10, Port: 8081, Target: dnsmessage.MustNewName("b.example.")}))
	require.NoError(t, b.StartAdditionals())
	require.NoError(t, b.AResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("A.example."), Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}}))
	require.NoError(t, b.AAAAResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("a.example."), Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()}))
	msg, err := b.Finish()
	require.NoError(t, err)

	res, ok := parseDNSAnswer(msg, 7, dnsmessage.TypeSRV)
	require.True(t, ok)
	require.Equal(t, dnsValid, res.status)
	require.Equal(t, []srvRecord{
		{target: "a.example", port: 8080, weight: 300, priority: 1, addr4: netip.MustParseAddr("10.0.0.1"), addr6: netip.MustParseAddr("2001:db8::1")},
		{target: "b.example", port: 8081, weight: 10, priority: 1},
	}, res.srvs)
	require.Equal(t, netip.MustParseAddr("10.0.0.1"), res.srvs[0].addrFor("ipv4"))
	require.Equal(t, netip.MustParseAddr("2001:db8::1"), res.srvs[0].addrFor("ipv6"))
	require.False(t, res.srvs[1].addrFor("ipv4").IsValid())

	_, ok = parseDNSAnswer(msg, 8, dnsmessage.TypeSRV)
	require.False(t, ok, "another query's answer")
	for cut := 12; cut < len(msg); cut += 7 {
		res, ok := parseDNSAnswer(msg[:cut], 7, dnsmessage.TypeSRV)
		require.True(t, ok)
		require.NotEqual(t, dnsValid, res.status, "cut at %d", cut)
	}
}

// Any message parses to a status or is no answer; a valid one holds what
// was asked for.
func FuzzParseDNSAnswer(f *testing.F) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, Response: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("_x._tcp.t."), Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET})
	_ = b.StartAnswers()
	_ = b.SRVResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("_x._tcp.t."), Class: dnsmessage.ClassINET}, dnsmessage.SRVResource{Port: 1, Target: dnsmessage.MustNewName("a.t.")})
	_ = b.StartAdditionals()
	_ = b.AResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("a.t."), Class: dnsmessage.ClassINET}, dnsmessage.AResource{A: [4]byte{1, 2, 3, 4}})
	msg, _ := b.Finish()
	f.Add(msg, uint16(dnsmessage.TypeSRV))
	f.Add(msg, uint16(dnsmessage.TypeA))
	f.Fuzz(func(t *testing.T, msg []byte, qt uint16) {
		res, ok := parseDNSAnswer(msg, 1, dnsmessage.Type(qt))
		if ok && res.status == dnsValid {
			if dnsmessage.Type(qt) == dnsmessage.TypeSRV {
				require.NotEmpty(t, res.srvs)
			} else {
				require.NotEmpty(t, res.addrs)
			}
		}
	})
}
