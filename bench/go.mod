module github.com/proxyblocks/proxyblocks/bench

go 1.25.0

replace github.com/proxyblocks/proxyblocks => ../

require (
	github.com/VictoriaMetrics/fastcache v1.13.0
	github.com/coocood/freecache v1.2.7
	github.com/proxyblocks/proxyblocks v0.0.0
	golang.org/x/time v0.15.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang/snappy v1.0.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
