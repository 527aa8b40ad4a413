package config

import (
	"errors"
	"fmt"
	"slices"
)

// Compression is a proxy's HTTP response compression, as HAProxy's
// "compression" lines set it: responses are compressed with the first
// of Algos the client accepts (by its q-values), when their type starts
// with one of Types (any type when empty).
type Compression struct {
	// Algos are "gzip", "deflate" (zlib), "raw-deflate" and "identity",
	// in the configured order.
	Algos []string
	// Types are the content types to compress, matched as prefixes,
	// case-insensitively.
	Types []string
	// Offload removes Accept-Encoding from the requests the servers see
	// when lb compresses, so that they answer uncompressed.
	Offload bool
}

// compressionAlgos are the algorithms lb compresses with.
var compressionAlgos = []string{"identity", "gzip", "deflate", "raw-deflate"}

func init() {
	proxyKeywords["compression"] = proxyKeyword{kAll, parseCompression}
}

// ownCompression returns the proxy's compression settings, made or copied
// from the defaults section before the first change.
func ownCompression(px *Proxy) *Compression {
	if !px.compOwn {
		c := &Compression{}
		if old := px.HTTP.Compression; old != nil {
			*c = *old
			c.Algos = slices.Clone(old.Algos)
			c.Types = slices.Clone(old.Types)
		}
		px.HTTP.Compression, px.compOwn = c, true
	}
	return px.HTTP.Compression
}

// parseCompression reads "compression algo A...", "compression type
// T..." and "compression offload".
func parseCompression(_ *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'algo', 'type' or 'offload'")
	}
	switch a[0] {
	case "algo":
		if len(a) < 2 {
			return errors.New("'compression algo' expects <algorithm> [<algorithm>]*")
		}
		c := ownCompression(px)
		for _, name := range a[1:] {
			if !slices.Contains(compressionAlgos, name) {
				return fmt.Errorf("'compression algo': '%s' is not a supported algorithm (known: identity, gzip, deflate, raw-deflate)", name)
			}
			c.Algos = append(c.Algos, name)
		}
	case "type":
		if len(a) < 2 {
			return errors.New("'compression type' expects <type> [<type>]*")
		}
		c := ownCompression(px)
		c.Types = append(c.Types, a[1:]...)
	case "offload":
		if len(a) != 1 {
			return errors.New("'compression offload' takes no argument")
		}
		if px.Kind == KindDefaults {
			return fmt.Errorf("%w: 'compression offload' is not allowed in a 'defaults' section", ErrMisplaced)
		}
		ownCompression(px).Offload = true
	case "direction", "algo-req", "algo-res", "type-req", "type-res", "minsize-req", "minsize-res":
		return fmt.Errorf("%w: 'compression %s'", ErrUnsupported, a[0])
	default:
		return fmt.Errorf("%w: 'compression %s' (expects 'algo', 'type' or 'offload')", ErrUnknownKeyword, a[0])
	}
	return nil
}
