//! The `tracing` feature: each connection's driver runs in a `muxplex`
//! span carrying its role and, from `connect` and `accept`, the peer's
//! address.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};

use muxplex_tokio::Config;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span opened: its name and `field=value` pairs.
type Span = (String, Vec<String>);

/// Spans opened, in order.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Span>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(Vec::new());
        span.record(&mut fields);
        let mut spans = self.0.lock().unwrap();
        spans.push((span.metadata().name().to_string(), fields.0));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn connect_and_accept_run_in_spans_with_the_peer_address() {
    let spans = Spans::default();
    tracing::subscriber::with_default(spans.clone(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let (client, server) = tokio::join!(
                muxplex_tokio::connect(address, Config::default()),
                muxplex_tokio::accept(&listener, Config::default()),
            );
            let (client, server) = (client.unwrap(), server.unwrap());
            let spans = spans.0.lock().unwrap().clone();
            let client_span = (
                "muxplex".to_string(),
                vec!["role=Client".to_string(), format!("peer={address}")],
            );
            assert!(spans.contains(&client_span), "{spans:?}");
            let server_span = spans
                .iter()
                .find(|(_, fields)| fields.first().is_some_and(|f| f == "role=Server"))
                .expect("the server's span");
            assert_eq!(server_span.0, "muxplex");
            assert!(server_span.1[1].starts_with("peer=127.0.0.1:"), "{spans:?}");
            drop((client, server));
        });
    });
}
