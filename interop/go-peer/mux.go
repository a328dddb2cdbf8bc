package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	hashicorp "github.com/hashicorp/yamux"
	goyamux "github.com/libp2p/go-yamux/v5"
)

// session is what the scenarios need from a yamux session, whichever
// library provides it.
type session interface {
	open() (stream, error)
	accept() (stream, error)
	// goAway sends GoAway(0) without closing the connection.
	goAway() error
	close() error
	isClosed() bool
}

// stream is one yamux stream: Close on its own would mean different things
// in the two libraries, so half-closing is explicit.
type stream interface {
	io.Reader
	io.Writer
	// closeWrite sends FIN; reading goes on.
	closeWrite() error
	// reset sends RST with a code, where the library can.
	reset(code uint32) error
	id() uint32
}

// settings are the few knobs the scenarios turn.
type settings struct {
	keepAlive          time.Duration // 0: the library's default
	streamCloseTimeout time.Duration // hashicorp only; 0: its default
}

// errNoReset: hashicorp/yamux has no API to reset a stream.
var errNoReset = errors.New("hashicorp/yamux cannot reset a stream")

func newSession(impl string, conn net.Conn, client bool, set settings) (session, error) {
	switch impl {
	case "hashicorp":
		config := hashicorp.DefaultConfig()
		config.LogOutput = os.Stderr
		if set.keepAlive > 0 {
			config.KeepAliveInterval = set.keepAlive
		}
		if set.streamCloseTimeout > 0 {
			config.StreamCloseTimeout = set.streamCloseTimeout
		}
		var s *hashicorp.Session
		var err error
		if client {
			s, err = hashicorp.Client(conn, config)
		} else {
			s, err = hashicorp.Server(conn, config)
		}
		return hashicorpSession{s}, err
	case "goyamux":
		config := goyamux.DefaultConfig()
		config.LogOutput = os.Stderr
		// The hello scenario holds 10,000 streams open at once; the
		// default refuses more than 1,000 inbound ones.
		config.MaxIncomingStreams = 16384
		if set.keepAlive > 0 {
			config.KeepAliveInterval = set.keepAlive
		}
		var s *goyamux.Session
		var err error
		if client {
			s, err = goyamux.Client(conn, config, nil)
		} else {
			s, err = goyamux.Server(conn, config, nil)
		}
		return goyamuxSession{s}, err
	}
	return nil, fmt.Errorf("unknown -impl %q (want hashicorp or goyamux)", impl)
}

type hashicorpSession struct{ s *hashicorp.Session }

func (h hashicorpSession) open() (stream, error) {
	st, err := h.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return hashicorpStream{st}, nil
}

func (h hashicorpSession) accept() (stream, error) {
	st, err := h.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return hashicorpStream{st}, nil
}

func (h hashicorpSession) goAway() error  { return h.s.GoAway() }
func (h hashicorpSession) close() error   { return h.s.Close() }
func (h hashicorpSession) isClosed() bool { return h.s.IsClosed() }

type hashicorpStream struct{ s *hashicorp.Stream }

func (h hashicorpStream) Read(b []byte) (int, error)  { return h.s.Read(b) }
func (h hashicorpStream) Write(b []byte) (int, error) { return h.s.Write(b) }

// closeWrite: hashicorp's Close is a half-close (FIN); reads go on until
// the peer's FIN.
func (h hashicorpStream) closeWrite() error  { return h.s.Close() }
func (h hashicorpStream) reset(uint32) error { return errNoReset }
func (h hashicorpStream) id() uint32         { return h.s.StreamID() }

type goyamuxSession struct{ s *goyamux.Session }

func (g goyamuxSession) open() (stream, error) {
	st, err := g.s.OpenStream(context.Background())
	if err != nil {
		return nil, err
	}
	return goyamuxStream{st}, nil
}

func (g goyamuxSession) accept() (stream, error) {
	st, err := g.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return goyamuxStream{st}, nil
}

func (g goyamuxSession) goAway() error  { return g.s.GoAway() }
func (g goyamuxSession) close() error   { return g.s.Close() }
func (g goyamuxSession) isClosed() bool { return g.s.IsClosed() }

type goyamuxStream struct{ s *goyamux.Stream }

func (g goyamuxStream) Read(b []byte) (int, error)  { return g.s.Read(b) }
func (g goyamuxStream) Write(b []byte) (int, error) { return g.s.Write(b) }
func (g goyamuxStream) closeWrite() error           { return g.s.CloseWrite() }
func (g goyamuxStream) reset(code uint32) error     { return g.s.ResetWithError(code) }
func (g goyamuxStream) id() uint32                  { return g.s.StreamID() }

// resetCode says whether err is a stream reset and, where the library
// reports one, its code (-1 when it cannot tell).
func resetCode(impl string, err error) (bool, int64) {
	switch impl {
	case "hashicorp":
		return errors.Is(err, hashicorp.ErrConnectionReset), -1
	default:
		var se *goyamux.StreamError
		if errors.As(err, &se) {
			return true, int64(se.ErrorCode)
		}
		return errors.Is(err, goyamux.ErrStreamReset), -1
	}
}

// isRemoteGoAway says whether err, from accepting after the peer's
// graceful close, is the library's documented report of it: go-yamux ends
// the session with ErrRemoteGoAway on GoAway(0); hashicorp/yamux notes
// the GoAway and ends cleanly at the transport's EOF.
func isRemoteGoAway(impl string, err error) bool {
	if impl == "hashicorp" {
		return errors.Is(err, io.EOF)
	}
	return errors.Is(err, goyamux.ErrRemoteGoAway)
}

// isKeepAliveTimeout says whether err reports a keepalive ping that went
// unanswered.
func isKeepAliveTimeout(impl string, err error) bool {
	if impl == "hashicorp" {
		return errors.Is(err, hashicorp.ErrKeepAliveTimeout)
	}
	return errors.Is(err, goyamux.ErrKeepAliveTimeout)
}
