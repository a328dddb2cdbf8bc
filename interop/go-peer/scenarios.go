package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// The scenarios' numbers; interop/README.md lists them, and the Rust peer
// (interop/muxplex-peer) uses the same.

const (
	kib = 1024
	mib = 1024 * kib

	echoStreams  = 100
	echoMax      = 8 * mib
	helloStreams = 10000
	shortStreams = 2000
	shortMax     = 256 * kib
	bothStreams  = 100
	bothMax      = 256 * kib

	resetLen          = 1000
	resetEchoLen      = 100000
	resetByClient     = 42
	resetByServer     = 7
	resetCloseTimeout = 250 * time.Millisecond

	closeFirst  = 4 * mib // the closer's stream, written before the close
	closeHalf   = 1 * mib // each half the other end sends
	closeAnswer = 2 * mib // the closer's answer after the close began

	keepaliveIdle = 5500 * time.Millisecond
)

var bigSizes = []uint64{4 * mib, 16 * mib}

func bigSeed(i int) uint64 { return 0xB0 + uint64(i) }

// ---------------------------------------------------------------------------
// Echo, hello, short streams: the client checks every echoed byte.

func echoServer(e *env) (int64, error) {
	_, err := acceptAll(e.sess, echo)
	return 0, err
}

func echoClient(e *env) (int64, error) {
	return openRoundTrips(e.sess, echoStreams, 0xEC000000, func(i uint64) uint64 {
		return uniformSize(0xEC, i, echoMax)
	})
}

func shortClient(e *env) (int64, error) {
	return openRoundTrips(e.sess, shortStreams, 0x50000000, func(i uint64) uint64 {
		return logSize(0x50, i, shortMax)
	})
}

func helloClient(e *env) (int64, error) {
	err := parallel(helloStreams, func(int) error {
		st, err := e.sess.open()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		if _, err := st.Write([]byte("hello")); err != nil {
			return fmt.Errorf("stream %d: write: %w", st.id(), err)
		}
		if err := st.closeWrite(); err != nil {
			return fmt.Errorf("stream %d: close: %w", st.id(), err)
		}
		got, err := io.ReadAll(st)
		if err != nil {
			return fmt.Errorf("stream %d: read: %w", st.id(), err)
		}
		if string(got) != "hello" {
			return fmt.Errorf("stream %d: echoed %q, want \"hello\"", st.id(), got)
		}
		return nil
	})
	return helloStreams * 5, err
}

// ---------------------------------------------------------------------------
// Big writes: 4 and 16 MiB in a single Write each way, one stream after
// the other.

func bigWritesClient(e *env) (int64, error) {
	var total int64
	for i, size := range bigSizes {
		st, err := e.sess.open()
		if err != nil {
			return total, fmt.Errorf("open: %w", err)
		}
		buf := make([]byte, size)
		fill(bigSeed(i), 0, buf)
		if _, err := st.Write(buf); err != nil {
			return total, fmt.Errorf("stream %d: write: %w", st.id(), err)
		}
		if err := st.closeWrite(); err != nil {
			return total, err
		}
		if err := readPattern(st, bigSeed(i), 0, size); err != nil {
			return total, err
		}
		if err := expectEOF(st); err != nil {
			return total, err
		}
		total += int64(size)
	}
	return total, nil
}

func bigWritesServer(e *env) (int64, error) {
	var total int64
	for i, size := range bigSizes {
		st, err := e.sess.accept()
		if err != nil {
			return total, fmt.Errorf("accept: %w", err)
		}
		got, err := io.ReadAll(st)
		if err != nil {
			return total, fmt.Errorf("stream %d: read: %w", st.id(), err)
		}
		if uint64(len(got)) != size {
			return total, fmt.Errorf("stream %d: got %d bytes, want %d", st.id(), len(got), size)
		}
		if err := newChecker(bigSeed(i)).check(got); err != nil {
			return total, err
		}
		if _, err := st.Write(got); err != nil {
			return total, fmt.Errorf("stream %d: write: %w", st.id(), err)
		}
		if err := st.closeWrite(); err != nil {
			return total, err
		}
		total += int64(size)
	}
	_, err := acceptAll(e.sess, func(_ int, st stream) error {
		return fmt.Errorf("stream %d: unexpected", st.id())
	})
	return total, err
}

// ---------------------------------------------------------------------------
// Server-initiated streams: both ends open streams at once and echo the
// other's. Once its echoes are checked the client opens one more stream,
// "done"; the server ends the session once it has that and its own
// echoes checked, so no end closes while the other still checks.

func bothOpen(e *env) (int64, error) {
	base, sizeSeed := uint64(0xC1000000), uint64(0xC1)
	if !e.client {
		base, sizeSeed = 0x5E000000, 0x5E
	}
	done := make(chan error, 1)
	served := make(chan error, 1)
	go func() {
		_, err := acceptAll(e.sess, func(k int, st stream) error {
			if k < bothStreams {
				return echo(k, st)
			}
			err := expectDone(st)
			done <- err
			return err
		})
		served <- err
	}()
	total, err := openRoundTrips(e.sess, bothStreams, base, func(i uint64) uint64 {
		return uniformSize(sizeSeed, i, bothMax)
	})
	if err != nil {
		return total, err
	}
	if e.client {
		st, err := e.sess.open()
		if err != nil {
			return total, err
		}
		if _, err := st.Write([]byte("done")); err != nil {
			return total, err
		}
		if err := st.closeWrite(); err != nil {
			return total, err
		}
		return total, <-served
	}
	if err := <-done; err != nil {
		return total, err
	}
	e.sess.close()
	return total, <-served
}

// expectDone reads the client's "done" stream.
func expectDone(st stream) error {
	got, err := io.ReadAll(st)
	if err != nil || string(got) != "done" {
		return fmt.Errorf("stream %d: %q (%v), want \"done\"", st.id(), got, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Resets: the client resets one stream with a code, the server another,
// then a fresh stream works. hashicorp/yamux cannot reset: it half-closes
// and its StreamCloseTimeout sends the RST (code 0) when no FIN answers.

// resetBy resets st with code, the hashicorp way where that is the library.
func resetBy(e *env, st stream, code uint32) error {
	if e.impl == "hashicorp" {
		return st.closeWrite()
	}
	return st.reset(code)
}

// expectReset waits for the peer's reset of st and checks its code where
// this library reports one. A hashicorp peer half-closes before its RST,
// so after its EOF writes probe until the RST has come.
func expectReset(e *env, st stream, code uint32) error {
	if e.peer == "hashicorp" {
		code = 0
	}
	buf := make([]byte, 64)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if e.peer == "hashicorp" {
			time.Sleep(10 * time.Millisecond)
			_, err = st.Write([]byte{1})
		} else {
			var n int
			n, err = st.Read(buf)
			if n > 0 {
				return fmt.Errorf("stream %d: data instead of a reset", st.id())
			}
			if err == io.EOF {
				return fmt.Errorf("stream %d: EOF instead of a reset", st.id())
			}
		}
		if err == nil {
			continue
		}
		reset, got := resetCode(e.impl, err)
		if !reset {
			return fmt.Errorf("stream %d: %v instead of a reset", st.id(), err)
		}
		if got >= 0 && got != int64(code) {
			return fmt.Errorf("stream %d: reset with code %d, want %d", st.id(), got, code)
		}
		return nil
	}
	return fmt.Errorf("stream %d: no reset came", st.id())
}

func resetClient(e *env) (int64, error) {
	// A: the client resets it once the server has read its bytes.
	a, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	if err := sendPattern(a, 0xA, 0, resetLen); err != nil {
		return 0, err
	}
	ready := make([]byte, 1)
	if _, err := io.ReadFull(a, ready); err != nil || ready[0] != 'r' {
		return 0, fmt.Errorf("stream %d: no ready byte: %v", a.id(), err)
	}
	if err := resetBy(e, a, resetByClient); err != nil {
		return 0, err
	}
	if _, err := a.Write([]byte("after")); err == nil {
		return 0, fmt.Errorf("stream %d: a write after our reset succeeded", a.id())
	}
	// B: the server resets it.
	b, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	if err := sendPattern(b, 0xB, 0, resetLen); err != nil {
		return 0, err
	}
	if err := expectReset(e, b, resetByServer); err != nil {
		return 0, err
	}
	// C: the session outlives both.
	c, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	return 2*resetLen + resetEchoLen, roundTrip(c, 0xC, resetEchoLen)
}

func resetServer(e *env) (int64, error) {
	a, err := e.sess.accept()
	if err != nil {
		return 0, err
	}
	if err := readPattern(a, 0xA, 0, resetLen); err != nil {
		return 0, err
	}
	if _, err := a.Write([]byte("r")); err != nil {
		return 0, err
	}
	if err := expectReset(e, a, resetByClient); err != nil {
		return 0, err
	}
	b, err := e.sess.accept()
	if err != nil {
		return 0, err
	}
	if err := readPattern(b, 0xB, 0, resetLen); err != nil {
		return 0, err
	}
	if err := resetBy(e, b, resetByServer); err != nil {
		return 0, err
	}
	_, err = acceptAll(e.sess, echo)
	return 2 * resetLen, err
}

// ---------------------------------------------------------------------------
// Graceful close. The closer (client or server, by scenario) starts
// closing while both ends still have data on the way: Go sends GoAway(0)
// at once and Close()s at the end, muxplex's close() drains. Nothing
// either end wrote may be lost, and the other end reports the documented
// reason.

// closer: stream S2 carries 4 MiB written before the close; on S1 the
// other end sends 2 MiB, and the closer answers "c" (close begun) and
// 2 MiB. Once the other end's FIN on S2 says it has everything, it closes.
func closer(e *env) (int64, error) {
	s2, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	done2 := make(chan error, 1)
	go func() {
		buf := make([]byte, closeFirst)
		fill(0xC2, 0, buf)
		_, err := s2.Write(buf)
		if err == nil {
			err = s2.closeWrite()
		}
		if err == nil {
			err = expectEOF(s2)
		}
		done2 <- err
	}()
	s1, err := e.sess.accept()
	if err != nil {
		return 0, err
	}
	if err := readPattern(s1, 0xC1, 0, closeHalf); err != nil {
		return 0, err
	}
	if err := e.sess.goAway(); err != nil {
		return 0, fmt.Errorf("GoAway: %w", err)
	}
	if _, err := s1.Write([]byte("c")); err != nil {
		return 0, err
	}
	if err := readPattern(s1, 0xC1, closeHalf, closeHalf); err != nil {
		return 0, err
	}
	if err := expectEOF(s1); err != nil {
		return 0, err
	}
	if err := sendPattern(s1, 0xC3, 0, closeAnswer); err != nil {
		return 0, err
	}
	if err := s1.closeWrite(); err != nil {
		return 0, err
	}
	if err := <-done2; err != nil {
		return 0, err
	}
	return 2 * closeHalf, e.sess.close()
}

// closeOther is the other end: it must get all of the closer's bytes,
// may not open a new stream once the close began, and sees the session
// end with the library's report of the peer's graceful close.
func closeOther(e *env) (int64, error) {
	s1, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	type accepted struct {
		st  stream
		err error
	}
	got2 := make(chan accepted, 1)
	go func() {
		s2, err := e.sess.accept()
		if err == nil {
			err = readPattern(s2, 0xC2, 0, closeFirst)
		}
		if err == nil {
			err = expectEOF(s2)
		}
		got2 <- accepted{s2, err}
	}()
	if err := sendPattern(s1, 0xC1, 0, closeHalf); err != nil {
		return 0, err
	}
	c := make([]byte, 1)
	if _, err := io.ReadFull(s1, c); err != nil || c[0] != 'c' {
		return 0, fmt.Errorf("stream %d: no close-begun byte: %v", s1.id(), err)
	}
	if err := refusedDuringClose(e); err != nil {
		return 0, err
	}
	if err := sendPattern(s1, 0xC1, closeHalf, closeHalf); err != nil {
		return 0, err
	}
	if err := s1.closeWrite(); err != nil {
		return 0, err
	}
	if err := readPattern(s1, 0xC3, 0, closeAnswer); err != nil {
		return 0, err
	}
	if err := expectEOF(s1); err != nil {
		return 0, err
	}
	a := <-got2
	if a.err != nil {
		return 0, a.err
	}
	if err := a.st.closeWrite(); err != nil {
		return 0, err
	}
	_, err = e.sess.accept()
	if err == nil {
		return 0, errors.New("accepted a stream after the peer's close")
	}
	if !isRemoteGoAway(e.impl, err) {
		return 0, fmt.Errorf("session ended with %v, not the peer's graceful close", err)
	}
	return closeFirst + closeAnswer, nil
}

// refusedDuringClose: a stream opened while the peer closes is refused
// (muxplex answers its SYN with RST; a Go peer after its GoAway too).
func refusedDuringClose(e *env) error {
	st, err := e.sess.open()
	if err != nil {
		return nil // refused at once
	}
	st.Write([]byte("x"))
	_, err = st.Read(make([]byte, 1))
	if reset, _ := resetCode(e.impl, err); !reset {
		return fmt.Errorf("stream %d opened during the peer's close: %v, not a reset", st.id(), err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Keepalive: 5.5 s of silence with 1 s keepalive on both ends; the
// session must still carry a stream after it.

func keepaliveClient(e *env) (int64, error) {
	st, err := e.sess.open()
	if err != nil {
		return 0, err
	}
	exchange := func(msg string) error {
		if _, err := st.Write([]byte(msg)); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(st, got); err != nil {
			return err
		}
		if !bytes.Equal(got, []byte(msg)) {
			return fmt.Errorf("echoed %q, want %q", got, msg)
		}
		return nil
	}
	if err := exchange("ping1"); err != nil {
		return 0, err
	}
	time.Sleep(keepaliveIdle)
	if e.sess.isClosed() {
		return 0, errors.New("the session died while idle")
	}
	if err := exchange("ping2"); err != nil {
		return 0, fmt.Errorf("after the idle time: %w", err)
	}
	if err := st.closeWrite(); err != nil {
		return 0, err
	}
	return 10, expectEOF(st)
}

func keepaliveServer(e *env) (int64, error) {
	acceptErr, err := acceptAll(e.sess, echo)
	if isKeepAliveTimeout(e.impl, acceptErr) {
		return 0, fmt.Errorf("keepalive timed out: %w", acceptErr)
	}
	return 0, err
}
