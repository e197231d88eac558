//! The simulated Ledger as an in-process [`Exchange`]: the demo device when no socket is
//! wanted, and a way to measure host overhead without the network.

use std::sync::{Arc, Mutex};

use coldlink_bridge::TransportError;
use coldlink_ledger::{Apdu, Exchange, ExchangeError, Response};

use super::{LedgerSim, Outcome};

/// Talks to a simulated Ledger directly.
#[derive(Clone)]
pub struct InProcess(pub Arc<Mutex<LedgerSim>>);

impl Exchange for InProcess {
    fn exchange(&mut self, apdu: &Apdu) -> Result<Response, ExchangeError> {
        let raw = apdu.encode()?;
        let outcome = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .handle(&raw);
        match outcome {
            Outcome::Respond(bytes) => Ok(Response::parse(&bytes)?),
            Outcome::Silent => Err(TransportError::Timeout(std::time::Duration::ZERO).into()),
            Outcome::Disconnect => Err(TransportError::Disconnected.into()),
        }
    }
}
