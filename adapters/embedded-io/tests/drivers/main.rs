//! Host tests of the driver over in-memory embedded-io transports.

mod app;
mod blocking;
mod pipe;
