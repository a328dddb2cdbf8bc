//! Host tests of both drivers over in-memory embedded-io transports. One
//! test binary, so helpers shared by the blocking and async tests are
//! compiled once and none is unused in any binary.

mod app;
mod asynch;
mod blocking;
mod pipe;
