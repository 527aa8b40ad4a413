package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCacheSection(t *testing.T) {
	cfg, err := parse(t, `cache small
    total-max-size 4
    max-age 240
cache big
    total-max-size 64
    max-object-size 100000
    process-vary on
    max-secondary-entries 3
frontend fe
    mode http
    bind 127.0.0.1:0
    http-request cache-use small if { path_beg /static }
    http-response cache-store small
    default_backend be
backend be
    mode http
    http-request cache-use big
    http-response cache-store big
    server s 127.0.0.1:8080
`)
	require.NoError(t, err)
	require.Len(t, cfg.Caches, 2)
	small, big := cfg.Cache("small"), cfg.Cache("big")
	require.Equal(t, &CacheSection{Pos: small.Pos, Name: "small", TotalMaxSize: 4 << 20, MaxObjectSize: 4 << 20 >> 8, MaxAge: 240, MaxSecondaryEntries: 10, sizeSet: true}, small)
	require.Equal(t, "lb.cfg:1", small.Pos.String())
	require.Equal(t, &CacheSection{Pos: big.Pos, Name: "big", TotalMaxSize: 64 << 20, MaxObjectSize: 100000, MaxAge: 60, ProcessVary: true, MaxSecondaryEntries: 3, sizeSet: true}, big)
	fe := cfg.Proxy("fe", KindFrontend)
	require.Equal(t, "cache-use", fe.HTTP.RequestRules[0].Action)
	require.Equal(t, "small", fe.HTTP.RequestRules[0].Name)
	require.NotNil(t, fe.HTTP.RequestRules[0].Cond)
	require.Equal(t, "cache-store", fe.HTTP.ResponseRules[0].Action)
	require.Nil(t, cfg.Cache("other"))
}

func TestCacheSectionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		sentinel   error
		want       string
	}{
		{"no name", "cache\n    total-max-size 1\n", ErrBadValue, "lb.cfg:1: bad value: 'cache' expects <name>"},
		{"long name", "cache abcdefghijabcdefghijabcdefghijabc\n    total-max-size 1\n", ErrBadValue, "is longer than 32 characters"},
		{"duplicate", "cache c\n    total-max-size 1\ncache c\n    total-max-size 1\n", ErrReference, "lb.cfg:3: bad reference: duplicate cache name 'c' (first declared at lb.cfg:1)"},
		{"no size", "cache c\n    max-age 10\n", ErrBadValue, "lb.cfg:1: bad value: cache 'c': size not specified"},
		{"zero size", "cache c\n    total-max-size 0\n", ErrBadValue, "size not specified"},
		{"size too big", "cache c\n    total-max-size 4096\n", ErrBadValue, "lb.cfg:2: bad value: 'total-max-size' in 'cache' section: wrong value '4096' (expects an integer from 0 to 4095)"},
		{"size not a number", "cache c\n    total-max-size 1M\n", ErrBadValue, "wrong value '1M'"},
		{"object too big", "cache c\n    total-max-size 1\n    max-object-size 600000\n", ErrBadValue, "'max-object-size' is limited to half of 'total-max-size' (524288)"},
		{"vary word", "cache c\n    total-max-size 1\n    process-vary yes\n", ErrBadValue, "expects 'on' or 'off', not 'yes'"},
		{"no secondary entries", "cache c\n    total-max-size 1\n    max-secondary-entries 0\n", ErrBadValue, "expects a strictly positive integer"},
		{"missing value", "cache c\n    total-max-size 1\n    max-age\n", ErrBadValue, "lb.cfg:3: bad value: 'max-age' in 'cache' section: expects one value"},
		{"unknown keyword", "cache c\n    total-max-size 1\n    bogus 1\n", ErrUnknownKeyword, "lb.cfg:3: unknown keyword: unknown keyword 'bogus' in 'cache' section"},
		{"unknown cache", "frontend fe\n    mode http\n    bind 127.0.0.1:0\n    http-request cache-use nope\n", ErrReference, "lb.cfg:4: bad reference: frontend 'fe': unable to find the cache 'nope'"},
		{"store without name", "cache c\n    total-max-size 1\nbackend b\n    mode http\n    http-response cache-store\n", ErrBadValue, "'cache-store' expects a cache name"},
		{"use on the response", "cache c\n    total-max-size 1\nbackend b\n    mode http\n    http-response cache-use c\n", ErrUnsupported, "'http-response cache-use'"},
		{"store on the request", "cache c\n    total-max-size 1\nbackend b\n    mode http\n    http-request cache-store c\n", ErrUnsupported, "'http-request cache-store'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestCacheFilters(t *testing.T) {
	const head = "cache c\n    total-max-size 1\ndefaults\n    mode http\n"
	cfg, err := parse(t, head+`backend b
    http-request cache-use c
    filter compression
    compression algo gzip
    server s 127.0.0.1:80
backend b2
    filter cache c
    filter compression
    http-response cache-store c
    server s 127.0.0.1:80
`)
	require.NoError(t, err)
	b := cfg.Proxy("b", KindBackend)
	require.Equal(t, []Filter{{Pos: Pos{"lb.cfg", 6}, Type: "cache", Name: "c", Implicit: true}, {Pos: Pos{"lb.cfg", 7}, Type: "compression"}}, b.Filters)
	b2 := cfg.Proxy("b2", KindBackend)
	require.Equal(t, []Filter{{Pos: Pos{"lb.cfg", 11}, Type: "cache", Name: "c"}, {Pos: Pos{"lb.cfg", 12}, Type: "compression"}}, b2.Filters)

	for _, tc := range []struct {
		name, text string
		sentinel   error
		want       string
	}{
		{"compression first", "backend b\n    filter compression\n    filter cache c\n", ErrBadValue, "lb.cfg:7: bad value: backend 'b': unable to enable the compression filter before the cache 'c'"},
		{"explicit after compression", "backend b\n    http-request cache-use c\n    filter compression\n    filter cache c\n", ErrBadValue, "before the cache 'c'"},
		{"implicit after compression", "backend b\n    filter compression\n    http-request cache-use c\n", ErrBadValue, "before the cache 'c'"},
		{"twice", "backend b\n    filter cache c\n    filter cache c\n", ErrBadValue, "lb.cfg:7: bad value: 'filter' in 'backend' section: b: multiple explicit declarations of the cache filter 'c'"},
		{"unknown cache", "backend b\n    filter cache nope\n", ErrReference, "unable to find the cache 'nope' referenced by the filter 'cache'"},
		{"no name", "backend b\n    filter cache\n", ErrBadValue, "expects a <name> argument"},
		{"trace", "backend b\n    filter trace\n", ErrUnsupported, "filter 'trace'"},
		{"unknown", "backend b\n    filter bogus\n", ErrBadValue, "unknown filter 'bogus'"},
		{"in defaults", "defaults\n    filter compression\n", ErrMisplaced, "'filter' not allowed in 'defaults' section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, head+tc.text)
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
