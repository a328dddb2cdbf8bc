package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// The routines the scenarios are made of.

const chunkSize = 64 * 1024

// sendPattern writes size bytes of seed's pattern from offset on, in
// chunks.
func sendPattern(st stream, seed, offset, size uint64) error {
	buf := make([]byte, min(size, chunkSize))
	for sent := uint64(0); sent < size; {
		n := min(size-sent, uint64(len(buf)))
		fill(seed, offset+sent, buf[:n])
		if _, err := st.Write(buf[:n]); err != nil {
			return fmt.Errorf("stream %d: write: %w", st.id(), err)
		}
		sent += n
	}
	return nil
}

// readPattern reads exactly size bytes and checks them against seed's
// pattern from offset on.
func readPattern(st stream, seed, offset, size uint64) error {
	c := newChecker(seed)
	c.offset = offset
	buf := make([]byte, min(max(size, 1), chunkSize))
	for got := uint64(0); got < size; {
		n, err := st.Read(buf[:min(size-got, uint64(len(buf)))])
		if err := c.check(buf[:n]); err != nil {
			return fmt.Errorf("stream %d: %w", st.id(), err)
		}
		got += uint64(n)
		if err == io.EOF && got < size {
			return fmt.Errorf("stream %d: short: ended after %d of %d bytes", st.id(), got, size)
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("stream %d: read after %d of %d bytes: %w", st.id(), got, size, err)
		}
	}
	return nil
}

// expectEOF reads the end of the stream, which must come before any more
// bytes.
func expectEOF(st stream) error {
	var buf [1]byte
	for {
		n, err := st.Read(buf[:])
		if n > 0 {
			return fmt.Errorf("stream %d: a byte past the expected end", st.id())
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stream %d: waiting for EOF: %w", st.id(), err)
		}
	}
}

// roundTrip sends size pattern bytes and FIN while it reads the echo back,
// checking every byte and the EOF after the last.
func roundTrip(st stream, seed, size uint64) error {
	sent := make(chan error, 1)
	go func() {
		err := sendPattern(st, seed, 0, size)
		if err == nil {
			err = st.closeWrite()
		}
		sent <- err
	}()
	err := readPattern(st, seed, 0, size)
	if err == nil {
		err = expectEOF(st)
	}
	return errors.Join(<-sent, err)
}

// echo writes back everything it reads, then FIN.
func echo(_ int, st stream) error {
	buf := make([]byte, chunkSize)
	for {
		n, err := st.Read(buf)
		if n > 0 {
			if _, werr := st.Write(buf[:n]); werr != nil {
				return fmt.Errorf("stream %d: echo write: %w", st.id(), werr)
			}
		}
		if err == io.EOF {
			return st.closeWrite()
		}
		if err != nil {
			return fmt.Errorf("stream %d: echo read: %w", st.id(), err)
		}
	}
}

// parallel runs f(0) .. f(n-1) at once and returns their errors joined.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// acceptAll hands every inbound stream to handle, with its number in the
// order of arrival, until the session ends; then waits for the handlers
// and returns the accept error that ended it and the handlers' errors.
func acceptAll(sess session, handle func(k int, st stream) error) (acceptErr, handlerErr error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for k := 0; ; k++ {
		st, err := sess.accept()
		if err != nil {
			wg.Wait()
			return err, errors.Join(errs...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := handle(k, st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
}

// openRoundTrips opens n streams at once, stream i carrying seed base+i
// and size(i) bytes, and checks each echo; returns the bytes sent.
func openRoundTrips(sess session, n int, base uint64, size func(i uint64) uint64) (int64, error) {
	var total int64
	for i := range uint64(n) {
		total += int64(size(i))
	}
	err := parallel(n, func(i int) error {
		st, err := sess.open()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		return roundTrip(st, base+uint64(i), size(uint64(i)))
	})
	return total, err
}
