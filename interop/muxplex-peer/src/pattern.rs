//! The byte pattern every stream carries, so both ends check each byte
//! without keeping a copy, and the scenarios' stream sizes. The Go peer
//! (`interop/go-peer/pattern.go`) computes the same; `interop/README.md`
//! specifies both.

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `i` of `seed`'s pattern: its bytes `8i..8i + 8`, little-endian.
pub(crate) fn word(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i))
}

/// Writes `seed`'s pattern from `offset` on into `buf`.
pub(crate) fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut i = 0;
    while i < buf.len() {
        let at = offset + i as u64;
        if at.is_multiple_of(8) && buf.len() - i >= 8 {
            buf[i..i + 8].copy_from_slice(&word(seed, at / 8).to_le_bytes());
            i += 8;
        } else {
            buf[i] = (word(seed, at / 8) >> (8 * (at % 8))) as u8;
            i += 1;
        }
    }
}

/// Checks a stream's bytes against its pattern as they arrive.
pub(crate) struct Checker {
    seed: u64,
    offset: u64,
    scratch: Vec<u8>,
}

impl Checker {
    /// A checker for `seed`'s pattern from `offset` on.
    pub(crate) fn new(seed: u64, offset: u64) -> Self {
        Checker {
            seed,
            offset,
            scratch: vec![0; 64 * 1024],
        }
    }

    /// Checks the next bytes; names the first wrong one.
    pub(crate) fn check(&mut self, mut got: &[u8]) -> Result<(), String> {
        while !got.is_empty() {
            let n = got.len().min(self.scratch.len());
            let want = &mut self.scratch[..n];
            fill(self.seed, self.offset, want);
            if got[..n] != *want {
                let i = (0..n).find(|&i| got[i] != want[i]).unwrap_or(0);
                return Err(format!(
                    "seed {:#x}: wrong byte at offset {}: got {:#x}, want {:#x}",
                    self.seed,
                    self.offset + i as u64,
                    got[i],
                    want[i]
                ));
            }
            self.offset += n as u64;
            got = &got[n..];
        }
        Ok(())
    }
}

/// Stream `i`'s size in `0..=max`.
pub(crate) fn uniform_size(seed: u64, i: u64, max: u64) -> u64 {
    word(seed, i) % (max + 1)
}

/// Stream `i`'s size in `1..=max` (`max` a power of two), spread evenly
/// over the powers of two, so short streams dominate.
pub(crate) fn log_size(seed: u64, i: u64, max: u64) -> u64 {
    let bits = u64::from(max.next_power_of_two().trailing_zeros());
    let u = word(seed, i);
    let e = u % (bits + 1);
    ((1 << e) + (u >> 32) % (1 << e)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by the Go peer's implementation, so the two agree.
    #[test]
    fn matches_the_go_peer() {
        let mut buf = [0u8; 11];
        fill(0xEC00_0000, 5, &mut buf);
        assert_eq!(buf, GO_FILL);
        assert_eq!(uniform_size(0xEC, 7, 8 << 20), GO_UNIFORM);
        assert_eq!(log_size(0x50, 3, 256 << 10), GO_LOG);
    }

    #[test]
    fn fill_is_the_same_at_any_alignment() {
        let mut whole = [0u8; 40];
        fill(9, 0, &mut whole);
        for start in 0..40 {
            let mut part = vec![0u8; 40 - start];
            fill(9, start as u64, &mut part);
            assert_eq!(part, whole[start..]);
        }
    }

    #[test]
    fn checker_names_a_wrong_byte() {
        let mut buf = vec![0u8; 100_000];
        fill(3, 10, &mut buf);
        assert!(Checker::new(3, 10).check(&buf).is_ok());
        buf[70_000] ^= 1;
        let err = Checker::new(3, 10).check(&buf).unwrap_err();
        assert!(err.contains("offset 70010"), "{err}");
    }

    #[test]
    fn sizes_stay_in_range() {
        for i in 0..10_000 {
            assert!(uniform_size(1, i, 100) <= 100);
            assert!((1..=256 << 10).contains(&log_size(2, i, 256 << 10)));
        }
        // Both ends of the log range occur.
        assert!((0..10_000).any(|i| log_size(2, i, 256 << 10) == 1));
        assert!((0..10_000).any(|i| log_size(2, i, 256 << 10) == 256 << 10));
    }

    const GO_FILL: [u8; 11] = [
        0x35, 0x06, 0xad, 0x51, 0x17, 0xb5, 0xc0, 0x68, 0xec, 0x98, 0xe6,
    ];
    const GO_UNIFORM: u64 = 3_760_015;
    const GO_LOG: u64 = 48;
}
