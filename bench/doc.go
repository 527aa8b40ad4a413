// Package bench holds comparison benchmarks that run proxyblocks beside
// other libraries in the same process. It is its own module so the
// library's go.mod does not carry the libraries it is compared with.
package bench
