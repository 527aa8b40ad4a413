package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropLanguageConverterMatchesHAProxy: language picks the
// Accept-Language entry with the best q-value among the configured
// languages, as haproxy 2.6 does, malformed q-values and parameters
// included.
func TestInteropLanguageConverterMatchesHAProxy(t *testing.T) {
	in := []struct{ header, args string }{
		{"da, en-gb;q=0.8, en;q=0.7", "en;fr"}, {"da, en-gb;q=0.8, en;q=0.7", "en-gb;en"}, {"da, en-gb;q=0.8, en;q=0.7", "fr"},
		{"da, en-gb;q=0.8, en;q=0.7", "fr,es"}, {"da, en-gb;q=0.8, en;q=0.7", "da;en"}, {"fr;q=0.5, de;q=0.5", "de;fr"},
		{"de;q=0, fr;q=0.1", "de;fr"}, {"de;q=0, fr;q=0.1", "de,xx"}, {"en-US", "en"}, {"en", "en-US"}, {"EN", "en"},
		{"*", "en"}, {"en;q=1.5, fr;q=0.9", "en;fr"}, {"en;q=0.95, fr;q=0.951", "en;fr"}, {"en;q=0.5x, fr;q=0.4", "en;fr"},
		{"en ; q=0.5, fr;q=0.4", "en;fr"}, {"en;q=0.3 , fr;q=0.4", "en;fr"}, {"en;q=.5, fr;q=0.4", "en;fr"},
		{"en;q=1.0, fr;q=1", "en;fr"}, {"en;level=1;q=0.2, fr;q=0.3", "en;fr"}, {"fr-CA-x", "fr"}, {"fr-CA", "fr-CA;fr"},
		{"fr-ca", "fr-CA;fr"}, {"en,,fr;q=0.5", "fr"}, {"", "en,def"}, {"en-", "en"}, {"-en", "en"},
		{"en;q=0.5, en;q=0.9, fr;q=0.6", "en"}, {"en x, fr;q=0.2", "en;fr"}, {"en;q=2, fr", "en;fr"}, {"en;q= 0.2 ,fr;q = 0.1", "fr;en"},
		{"fr;q=0.1, en;q", "fr;en"}, {"fr;q=0.1, en;q=", "fr;en"}, {"fr;q=0.1, en;", "fr;en"}, {"de", "en;;fr"}, {"-x", "en;;fr,d"},
		{"fr;q=0.001, de;q=0.0001", "de;fr"}, {"fr;q=0.2, de;q=0.20001", "de;fr"},
	}
	var cases []convCase
	for _, c := range in {
		cases = append(cases, convCase{"req.fhdr(x-in),language(" + c.args + ")", c.header})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[en]", "[en-gb]", "[]", "[es]", "[da]", "[fr]", "[]", "[xx]", "[en]", "[]", "[]", "[]", "[en]", "[fr]",
		"[en]", "[en]", "[fr]", "[en]", "[en]", "[en]", "[fr]", "[fr-CA]", "[fr]", "[fr]", "[def]", "[en]", "[]", "[en]"} {
		require.Equal(t, cases[i].expr+" => "+v, got[i])
	}
	require.Contains(t, convRefused(t, []string{"str(a),language(en,fr,x)"})[0], "converter 'language': expects <values>[,<default>]")
}
