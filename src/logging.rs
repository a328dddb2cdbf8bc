//! Protocol logs through the optional `log` and `defmt` features.
//!
//! [`mux_log!`] forwards to whichever of the two is enabled (both, if both
//! are), under the target `muxplex`. With neither it expands to a branch
//! that is never taken: the arguments are type-checked (so a log line
//! cannot rot unseen) but never evaluated, and the optimizer drops it.
//!
//! Arguments are shown with their `Display`; under `defmt` through
//! `Display2Format`, so the core's types need no `defmt::Format` impls.
//! `defmt` logs only on bare-metal targets (`target_os = "none"`), where a
//! firmware provides its global logger; elsewhere the feature is inert, so
//! a workspace built with every feature still links on a host.

use core::fmt;

use crate::frame::Header;

/// Logs a protocol event at `$level` (`error`, `warn`, `info`, `debug` or
/// `trace`), with a format string of `{}` placeholders only.
macro_rules! mux_log {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::$level!(target: "muxplex", $fmt $(, $arg)*);
        #[cfg(all(feature = "defmt", target_os = "none"))]
        ::defmt::$level!($fmt $(, ::defmt::Display2Format(&$arg))*);
        #[cfg(not(any(feature = "log", all(feature = "defmt", target_os = "none"))))]
        if false {
            $(let _ = &$arg;)*
        }
    }};
}

pub(crate) use mux_log;

/// A header as a log line shows it: `Data SYN|ACK stream 3 length 12`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShowHeader(pub(crate) Header);

impl fmt::Display for ShowHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0;
        write!(
            f,
            "{:?} {:?} stream {} length {}",
            h.frame_type, h.flags, h.stream_id, h.length
        )
    }
}
