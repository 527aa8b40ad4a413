module github.com/proxyblocks/proxyblocks

go 1.25.0

require (
	github.com/google/btree v1.1.3
	github.com/stretchr/testify v1.12.1
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/net v0.58.0
	golang.org/x/sys v0.47.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.41.0 // indirect
)
