//! A client and a server session driven by an arbitrary sequence of
//! operations over an arbitrary transport, every observation checked
//! against the reference model the property tests use.
#![no_main]

#[path = "../../tests/model/mod.rs"]
mod model;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use model::End;
use model::harness::{Harness, Op, Setup};

/// Reads operations off the fuzzer's bytes, a few bytes each.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn word(&mut self) -> Option<usize> {
        Some(usize::from(self.byte()?) << 8 | usize::from(self.byte()?))
    }

    fn end(&mut self) -> Option<End> {
        Some(if self.byte()? & 1 == 0 {
            End::Client
        } else {
            End::Server
        })
    }

    fn op(&mut self) -> Option<Op> {
        Some(match self.byte()? % 12 {
            0 => Op::Open(self.end()?),
            1 => Op::Accept(self.end()?),
            2 => Op::Write {
                end: self.end()?,
                pick: self.word()?,
                len: self.word()? * 5,
            },
            3 => Op::Read {
                end: self.end()?,
                pick: self.word()?,
                len: self.word()?,
                chunk: self.byte()? & 1 == 1,
            },
            4 => Op::Finish {
                end: self.end()?,
                pick: self.word()?,
            },
            5 => Op::Reset {
                end: self.end()?,
                pick: self.word()?,
                code: u32::from(self.byte()?),
            },
            6 => Op::Priority {
                end: self.end()?,
                pick: self.word()?,
                priority: i32::from(self.byte()? % 5) - 2,
            },
            7 => Op::Ping(self.end()?),
            8 => Op::Close(self.end()?),
            9 => Op::Step,
            10 => Op::Drive,
            _ => Op::Advance(Duration::from_millis(u64::from(self.byte()?))),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let (Some(a), Some(b), Some(c), Some(d)) =
        (bytes.byte(), bytes.byte(), bytes.byte(), bytes.byte())
    else {
        return;
    };
    let setup = Setup {
        seed: u64::from(a),
        chunk_max: usize::from(b).max(1) * 64,
        latency_ms: u64::from(c % 20),
        max_frame_size: if d & 1 == 0 {
            16 * 1024
        } else {
            u32::from(d) * 8 + 1
        },
        max_unacked: if d & 2 == 0 {
            256
        } else {
            usize::from(d % 5) + 1
        },
        accept_backlog: if d & 4 == 0 { 256 } else { usize::from(d % 4) },
    };
    let mut harness = Harness::new(&setup);
    let mut ops = 0;
    while let Some(op) = bytes.op() {
        harness.apply(&op);
        ops += 1;
        if ops == 200 {
            break;
        }
    }
    harness.finale();
});
