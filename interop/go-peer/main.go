// Command go-peer is the Go end of muxplex's interop matrix: one yamux
// session over TCP, with hashicorp/yamux or libp2p's go-yamux, acting as
// client or server in one scenario. The Rust end is interop/muxplex-peer;
// interop/matrix runs both against each other (see interop/README.md).
//
// A server listens on -addr and prints "listening ADDR" once it does; a
// client dials -addr. Each checks every byte it receives, exits 0 when the
// scenario passed and prints its last line as
// "result bytes=N micros=M": the payload bytes it checked and how long the
// scenario took, from the session's start to its last check.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

// env is what a scenario's side runs with.
type env struct {
	sess session
	impl string // this end's library
	peer string // the other end: muxplex, hashicorp or goyamux
	// client: this end dialed, and opens odd stream ids.
	client bool
}

// side is one role's part in a scenario: it returns the payload bytes it
// checked.
type side func(e *env) (int64, error)

type scenario struct {
	client, server side
	settings       settings
}

var scenarios = map[string]scenario{
	"echo":           {client: echoClient, server: echoServer},
	"hello":          {client: helloClient, server: echoServer},
	"big-writes":     {client: bigWritesClient, server: bigWritesServer},
	"delayed-relay":  {client: shortClient, server: echoServer},
	"reset":          {client: resetClient, server: resetServer, settings: settings{streamCloseTimeout: resetCloseTimeout}},
	"close-client":   {client: closer, server: closeOther},
	"close-server":   {client: closeOther, server: closer},
	// The same over a relay that reads the closer's output slowly.
	"slow-close-client": {client: closer, server: closeOther},
	"slow-close-server": {client: closeOther, server: closer},
	"keepalive":      {client: keepaliveClient, server: keepaliveServer, settings: settings{keepAlive: time.Second}},
	"server-streams": {client: bothOpen, server: bothOpen},
}

func main() {
	impl := flag.String("impl", "", "yamux library: hashicorp or goyamux")
	role := flag.String("role", "", "client (dials) or server (listens)")
	name := flag.String("scenario", "", "scenario name")
	addr := flag.String("addr", "127.0.0.1:0", "address to dial (client) or listen on (server)")
	peer := flag.String("peer", "muxplex", "the other end: muxplex, hashicorp or goyamux")
	flag.Parse()
	if err := run(*impl, *role, *name, *addr, *peer); err != nil {
		fmt.Fprintf(os.Stderr, "go-peer %s %s %s: FAIL: %v\n", *impl, *role, *name, err)
		os.Exit(1)
	}
}

func run(impl, role, name, addr, peer string) error {
	sc, ok := scenarios[name]
	if !ok {
		return fmt.Errorf("unknown -scenario %q", name)
	}
	var conn net.Conn
	var part side
	switch role {
	case "client":
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		conn, part = c, sc.client
	case "server":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		fmt.Printf("listening %s\n", l.Addr())
		c, err := l.Accept()
		l.Close()
		if err != nil {
			return err
		}
		conn, part = c, sc.server
	default:
		return fmt.Errorf("unknown -role %q (want client or server)", role)
	}
	sess, err := newSession(impl, conn, role == "client", sc.settings)
	if err != nil {
		return err
	}
	start := time.Now()
	checked, err := part(&env{sess: sess, impl: impl, peer: peer, client: role == "client"})
	elapsed := time.Since(start)
	// A client ends the session once its scenario is done (the closing
	// scenarios end it themselves); a server's part lasts until then.
	sess.close()
	if err != nil {
		return err
	}
	fmt.Printf("result bytes=%d micros=%d\n", checked, elapsed.Microseconds())
	return nil
}
