// The Go test peer of muxplex's interop matrix. It builds offline only:
// interop/run-go-matrix writes a copy of this file with `replace`
// directives that point at the Go yamux sources (../shared/go-peers) and
// builds with -modfile, so nothing here names a machine-specific path.
module muxplex.test/go-peer

go 1.24

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/libp2p/go-yamux/v5 v5.1.0
)

require github.com/libp2p/go-buffer-pool v0.0.2 // indirect
