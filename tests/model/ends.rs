//! One end of a pair under test, a muxplex session or a peer model, driven
//! through one application interface, so the same scenarios and the same
//! model-based harness run against either.

use std::fmt;

use muxplex::testing::{Endpoint, PeerError, PeerModel, Quirks, WireAudit};
use muxplex::{Config, Instant, Role, Session, StreamError, StreamId};

/// Why a stream command did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Nothing can be done now; later it may.
    Blocked,
    /// The stream was already finished for writing.
    Finished,
    /// The stream was reset or its session ended: it delivers a prefix.
    Cut,
    /// The end no longer has the stream (freed after its end was read).
    Gone,
}

impl From<StreamError> for Refused {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Blocked => Refused::Blocked,
            StreamError::Finished => Refused::Finished,
            StreamError::Reset { .. } | StreamError::SessionClosed { .. } => Refused::Cut,
            e => panic!("unexpected stream error {e:?}"),
        }
    }
}

impl From<PeerError> for Refused {
    fn from(e: PeerError) -> Self {
        match e {
            PeerError::Blocked => Refused::Blocked,
            PeerError::Finished => Refused::Finished,
            PeerError::Reset { .. } | PeerError::SessionEnded(_) => Refused::Cut,
            PeerError::UnknownStream => Refused::Gone,
            e => panic!("unexpected peer model error {e:?}"),
        }
    }
}

/// A muxplex session or a peer model.
#[derive(Debug)]
// A pair holds two of them, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Peer {
    Mux(Session),
    Model(PeerModel),
}

impl Peer {
    /// A muxplex session: the only place the tests that use this module
    /// build one, open a stream on one or close one.
    pub(crate) fn muxplex(role: Role, config: Config) -> Peer {
        Peer::Mux(Session::new(role, config, Instant::ZERO).expect("valid config"))
    }

    /// A peer model with these quirks.
    pub(crate) fn model(role: Role, quirks: Quirks) -> Peer {
        Peer::Model(PeerModel::new(role, quirks))
    }

    /// The session, if this end is muxplex.
    pub(crate) fn session(&mut self) -> Option<&mut Session> {
        match self {
            Peer::Mux(session) => Some(session),
            Peer::Model(_) => None,
        }
    }

    /// The model, if this end is one.
    pub(crate) fn peer_model(&mut self) -> Option<&mut PeerModel> {
        match self {
            Peer::Mux(_) => None,
            Peer::Model(model) => Some(model),
        }
    }

    /// The session; panics if this end is a model.
    pub(crate) fn mux(&mut self) -> &mut Session {
        self.session().expect("this end is muxplex")
    }

    /// The model; panics if this end is muxplex.
    pub(crate) fn modelled(&mut self) -> &mut PeerModel {
        self.peer_model().expect("this end is a peer model")
    }

    pub(crate) fn open(&mut self, now: Instant) -> Option<StreamId> {
        match self {
            Peer::Mux(session) => session.open_stream(now).ok(),
            Peer::Model(model) => model.open_stream().ok(),
        }
    }

    pub(crate) fn accept(&mut self) -> Option<StreamId> {
        match self {
            Peer::Mux(session) => session.accept_stream(),
            Peer::Model(model) => model.accept_stream(),
        }
    }

    /// Writes what the stream takes now (a model takes everything).
    pub(crate) fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, Refused> {
        match self {
            Peer::Mux(session) => mux_op(session, id, |stream| stream.write(data)),
            Peer::Model(model) => {
                model.write(id, data)?;
                Ok(data.len())
            }
        }
    }

    /// Reads up to `max` bytes, copying or (muxplex, `chunk`) taking a
    /// shared chunk: `Ok(None)` is the end of the stream, an empty vector
    /// a read of nothing (only when `max` is 0).
    pub(crate) fn read(
        &mut self,
        id: StreamId,
        max: usize,
        chunk: bool,
    ) -> Result<Option<Vec<u8>>, Refused> {
        match self {
            Peer::Mux(session) => mux_op(session, id, |stream| {
                if chunk {
                    return Ok(stream.read_chunk(max)?.map(|c| c.to_vec()));
                }
                let mut buf = vec![0u8; max];
                let n = stream.read(&mut buf)?;
                buf.truncate(n);
                Ok((n > 0 || max == 0).then_some(buf))
            }),
            Peer::Model(model) => {
                if max == 0 {
                    return Ok(Some(Vec::new()));
                }
                let mut buf = vec![0u8; max];
                let n = model.read(id, &mut buf)?;
                buf.truncate(n);
                Ok((n > 0).then_some(buf))
            }
        }
    }

    pub(crate) fn finish(&mut self, now: Instant, id: StreamId) -> Result<(), Refused> {
        match self {
            Peer::Mux(session) => mux_op(session, id, |stream| stream.finish(now)),
            Peer::Model(model) => Ok(model.finish(id)?),
        }
    }

    /// Resets the stream, if the end still has it.
    pub(crate) fn reset(&mut self, id: StreamId, code: u32) {
        match self {
            Peer::Mux(session) => {
                if let Ok(stream) = session.stream(id) {
                    stream.reset(code);
                }
            }
            Peer::Model(model) => {
                let _ = model.reset(id, code);
            }
        }
    }

    /// Closes gracefully: muxplex's `close`, a model's GoAway(0).
    pub(crate) fn close(&mut self, now: Instant) {
        match self {
            Peer::Mux(session) => session.close(now),
            Peer::Model(model) => model.go_away(0),
        }
    }

    fn endpoint(&self) -> &dyn Endpoint {
        match self {
            Peer::Mux(session) => session,
            Peer::Model(model) => model,
        }
    }

    fn endpoint_mut(&mut self) -> &mut dyn Endpoint {
        match self {
            Peer::Mux(session) => session,
            Peer::Model(model) => model,
        }
    }
}

impl Endpoint for Peer {
    fn role(&self) -> Role {
        self.endpoint().role()
    }
    fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.endpoint_mut().handle_input(now, bytes);
    }
    fn handle_eof(&mut self, now: Instant) {
        self.endpoint_mut().handle_eof(now);
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        self.endpoint_mut().poll_transmit(buf)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.endpoint().poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint_mut().handle_timeout(now);
    }
    fn wire_audit(&self) -> WireAudit {
        self.endpoint().wire_audit()
    }
    fn fault(&self) -> Option<&dyn fmt::Display> {
        self.endpoint().fault()
    }
    fn name(&self) -> &'static str {
        self.endpoint().name()
    }
}

/// Runs `op` on a muxplex stream; once it reports a reset, the application
/// has seen it and lets the stream go, as a real one would.
fn mux_op<T>(
    session: &mut Session,
    id: StreamId,
    op: impl FnOnce(&mut muxplex::Stream<'_>) -> Result<T, StreamError>,
) -> Result<T, Refused> {
    let mut stream = session.stream(id).map_err(|_| Refused::Gone)?;
    let result = op(&mut stream);
    if let Err(StreamError::Reset { .. }) = result {
        assert!(stream.release(), "a reset stream is released");
    }
    Ok(result?)
}
