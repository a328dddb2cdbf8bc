package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The byte pattern every stream carries, so both ends can check each byte
// without keeping a copy. interop/README.md specifies it; the Rust peer
// computes the same.

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// word is the seed's 64-bit word number i: bytes 8i..8i+8, little-endian.
func word(seed, i uint64) uint64 {
	return mix(seed*0x9E3779B97F4A7C15 + i)
}

// fill writes the seed's pattern from offset on into buf.
func fill(seed, offset uint64, buf []byte) {
	i := 0
	for i < len(buf) {
		at := offset + uint64(i)
		if at%8 == 0 && len(buf)-i >= 8 {
			binary.LittleEndian.PutUint64(buf[i:], word(seed, at/8))
			i += 8
			continue
		}
		buf[i] = byte(word(seed, at/8) >> (8 * (at % 8)))
		i++
	}
}

// checker verifies a stream's bytes against its pattern as they arrive.
type checker struct {
	seed    uint64
	offset  uint64
	scratch []byte
}

func newChecker(seed uint64) *checker {
	return &checker{seed: seed, scratch: make([]byte, 64*1024)}
}

func (c *checker) check(got []byte) error {
	for len(got) > 0 {
		n := min(len(got), len(c.scratch))
		want := c.scratch[:n]
		fill(c.seed, c.offset, want)
		if !bytes.Equal(got[:n], want) {
			for i := range n {
				if got[i] != want[i] {
					return fmt.Errorf("seed %#x: wrong byte at offset %d: got %#x, want %#x",
						c.seed, c.offset+uint64(i), got[i], want[i])
				}
			}
		}
		c.offset += uint64(n)
		got = got[n:]
	}
	return nil
}

// uniformSize is stream i's size in 0..=max.
func uniformSize(seed, i, max uint64) uint64 {
	return word(seed, i) % (max + 1)
}

// logSize is stream i's size in 1..=max (max a power of two), spread
// evenly over the powers of two so short streams dominate.
func logSize(seed, i, max uint64) uint64 {
	bits := uint64(0)
	for uint64(1)<<bits < max {
		bits++
	}
	u := word(seed, i)
	e := u % (bits + 1)
	size := uint64(1)<<e + (u>>32)%(uint64(1)<<e)
	return min(size, max)
}
