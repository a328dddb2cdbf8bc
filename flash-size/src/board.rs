//! The board: a UART as the transport and a 1 MHz timer as the clock, by
//! their registers (an STM32F4's USART1 and TIM2). Pin and clock-tree setup
//! are the board's own business and left out; what is here is what the
//! session's code path touches.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use muxplex::Instant;

const RCC_APB1ENR: *mut u32 = 0x4002_3840 as *mut u32;
const RCC_APB2ENR: *mut u32 = 0x4002_3844 as *mut u32;
const TIM2_CR1: *mut u32 = 0x4000_0000 as *mut u32;
const TIM2_CNT: *const u32 = 0x4000_0024 as *const u32;
const TIM2_PSC: *mut u32 = 0x4000_0028 as *mut u32;
const TIM2_ARR: *mut u32 = 0x4000_002C as *mut u32;
const USART1_SR: *const u32 = 0x4001_1000 as *const u32;
const USART1_DR: *mut u32 = 0x4001_1004 as *mut u32;
const USART1_BRR: *mut u32 = 0x4001_1008 as *mut u32;
const USART1_CR1: *mut u32 = 0x4001_100C as *mut u32;
/// Status: a byte was received.
const SR_RXNE: u32 = 1 << 5;
/// Status: the transmit register is empty.
const SR_TXE: u32 = 1 << 7;

/// Starts the timer (16 MHz clock / 16 = 1 MHz) and the UART (115200 baud).
pub(crate) fn init() {
    // SAFETY: the addresses are the chip's RCC, TIM2 and USART1 registers,
    // and nothing else in the firmware touches them.
    unsafe {
        write_volatile(RCC_APB1ENR, read_volatile(RCC_APB1ENR) | 1);
        write_volatile(RCC_APB2ENR, read_volatile(RCC_APB2ENR) | 1 << 4);
        write_volatile(TIM2_PSC, 15);
        write_volatile(TIM2_ARR, u32::MAX);
        write_volatile(TIM2_CR1, 1);
        write_volatile(USART1_BRR, 0x8B);
        write_volatile(USART1_CR1, 1 << 13 | 1 << 3 | 1 << 2);
    }
}

/// The session's clock: TIM2's 32-bit microsecond count, widened.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last: u32,
    high: u64,
}

impl Clock {
    /// Microseconds since [`init`], for the session.
    pub(crate) fn now(&mut self) -> Instant {
        // SAFETY: TIM2's counter register, read-only here.
        let count = unsafe { read_volatile(TIM2_CNT) };
        if count < self.last {
            self.high += 1 << 32;
        }
        self.last = count;
        Instant::from_micros(self.high | u64::from(count))
    }
}

/// USART1 as an embedded-io transport, a byte at a time.
#[derive(Debug)]
pub(crate) struct Uart;

fn status() -> u32 {
    // SAFETY: USART1's status register; reading it has no side effect
    // the driver could miss.
    unsafe { read_volatile(USART1_SR) }
}

impl ErrorType for Uart {
    type Error = Infallible;
}

impl ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(status() & SR_RXNE != 0)
    }
}

impl Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        // Blocks for the first byte only, as embedded-io asks.
        while n < buf.len() && (n == 0 || status() & SR_RXNE != 0) {
            if status() & SR_RXNE != 0 {
                // SAFETY: USART1's data register; reading it takes the byte.
                buf[n] = unsafe { read_volatile(USART1_DR) } as u8;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(status() & SR_TXE != 0)
    }
}

impl Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        while n < buf.len() && (n == 0 || status() & SR_TXE != 0) {
            if status() & SR_TXE != 0 {
                // SAFETY: USART1's data register; writing it sends the byte.
                unsafe { write_volatile(USART1_DR, u32::from(buf[n])) };
                n += 1;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
