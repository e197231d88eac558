//! A conversation with one Trezor-family device: sending a request and driving the device's
//! questions (button, PIN matrix, passphrase) through the [`Interaction`] until the answer.
//!
//! Whatever goes wrong mid-call (timeout, the user walking away, a malformed answer), the
//! session sends `Cancel` and drains the line before returning the error, so the next call
//! starts on a clean device instead of reading a stale answer.

use std::time::Duration;

use coldlink_bridge::{Transport, TransportError};
use coldlink_signer::{Interaction, Prompt, SignerError};
use zeroize::Zeroize;

use crate::{
    framing::{frame, FramingError, Reassembler},
    messages::{self as m, type_name, FailureType, Wire},
};

/// How long to wait for a person at the device by default.
pub const USER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the rest of a message may take once its first packet arrived.
const PACKET_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the device to acknowledge a Cancel.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(300);

fn transport_error(e: TransportError) -> SignerError {
    match e {
        TransportError::Timeout(_) => SignerError::Timeout,
        TransportError::Disconnected => SignerError::Disconnected,
        other => SignerError::Device {
            code: 0,
            message: other.to_string(),
        },
    }
}

fn framing_error(e: FramingError) -> SignerError {
    SignerError::BadResponse(e.to_string())
}

/// Decodes `payload` as `M`, or says what arrived instead.
pub fn decode<M: Wire>(msg_type: u16, payload: &[u8]) -> Result<M, SignerError> {
    if msg_type != M::TYPE {
        return Err(SignerError::BadResponse(format!(
            "expected {}, got {}",
            type_name(M::TYPE).unwrap_or("?"),
            type_name(msg_type)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("message type {msg_type}"))
        )));
    }
    M::decode(payload).map_err(|e| SignerError::BadResponse(e.to_string()))
}

/// The device's Failure as the error a person can act on.
pub fn failure_error(f: &m::Failure) -> SignerError {
    let message = f.message.clone().unwrap_or_default();
    match f.code.and_then(|c| FailureType::try_from(c).ok()) {
        Some(FailureType::ActionCancelled) => SignerError::Rejected,
        Some(FailureType::PinInvalid) => SignerError::WrongPin,
        Some(FailureType::PinCancelled) => SignerError::Cancelled,
        Some(FailureType::PinExpected) => SignerError::Locked,
        Some(FailureType::DataError) => {
            SignerError::InvalidRequest(format!("the device refused the request: {message}"))
        }
        Some(FailureType::NotInitialized) => SignerError::Device {
            code: FailureType::NotInitialized as u32,
            message: "the device has no seed yet: set it up first".into(),
        },
        code => SignerError::Device {
            code: code.map(|c| c as u32).unwrap_or(0),
            message: if message.is_empty() {
                "unknown failure".into()
            } else {
                message
            },
        },
    }
}

/// One device, one request at a time.
pub struct Session {
    transport: Box<dyn Transport>,
    user_timeout: Duration,
    passphrase_on_device: bool,
}

impl Session {
    /// A session over `transport`.
    pub fn new(transport: Box<dyn Transport>) -> Self {
        Self {
            transport,
            user_timeout: USER_TIMEOUT,
            passphrase_on_device: true,
        }
    }

    /// Sets how long to wait for the person at the device.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.user_timeout = timeout;
        self
    }

    /// Whether the device can take the passphrase on its own screen (Model T and Safe can; a
    /// Model One or KeepKey cannot, so "enter it on the device" becomes a cancel there).
    pub fn set_passphrase_on_device(&mut self, possible: bool) {
        self.passphrase_on_device = possible;
    }

    /// Sends one message.
    pub fn write_raw(&mut self, msg_type: u16, payload: &[u8]) -> Result<(), SignerError> {
        for p in frame(msg_type, payload).map_err(framing_error)? {
            self.transport.write_packet(&p).map_err(transport_error)?;
        }
        Ok(())
    }

    /// Receives one message, waiting up to `first` for it to start.
    pub fn read_raw(&mut self, first: Duration) -> Result<(u16, Vec<u8>), SignerError> {
        let mut r = Reassembler::new();
        let mut timeout = first;
        loop {
            let p = self
                .transport
                .read_packet(timeout)
                .map_err(transport_error)?;
            if let Some(msg) = r.push(&p).map_err(framing_error)? {
                return Ok(msg);
            }
            timeout = PACKET_TIMEOUT;
        }
    }

    /// Sends `req` and returns the device's final answer, handling button, PIN and
    /// passphrase requests on the way. `prompt` is what the app shows while the device waits
    /// for its button.
    pub fn call_raw(
        &mut self,
        msg_type: u16,
        payload: &[u8],
        prompt: &Prompt,
        ui: &dyn Interaction,
    ) -> Result<(u16, Vec<u8>), SignerError> {
        let r = self.exchange(msg_type, payload, prompt, ui);
        if let Err(e) = &r {
            if !matches!(
                e,
                SignerError::Disconnected
                    | SignerError::Rejected
                    | SignerError::WrongPin
                    | SignerError::Cancelled
                    | SignerError::InvalidRequest(_)
                    | SignerError::Device { .. }
            ) {
                self.abort();
            }
        }
        r
    }

    fn exchange(
        &mut self,
        msg_type: u16,
        payload: &[u8],
        prompt: &Prompt,
        ui: &dyn Interaction,
    ) -> Result<(u16, Vec<u8>), SignerError> {
        self.write_raw(msg_type, payload)?;
        loop {
            let (t, body) = self.read_raw(self.user_timeout)?;
            match t {
                m::ButtonRequest::TYPE => {
                    ui.confirm_on_device(prompt);
                    self.send(&m::ButtonAck {})?;
                }
                m::PinMatrixRequest::TYPE => match ui.pin_matrix() {
                    Some(positions) => {
                        let pin = positions.expose();
                        if pin.is_empty()
                            || pin.len() > 50
                            || !pin.bytes().all(|b| (b'1'..=b'9').contains(&b))
                        {
                            self.cancel_prompt()?;
                            return Err(SignerError::InvalidRequest(
                                "the PIN pad gives positions 1 to 9 only".into(),
                            ));
                        }
                        self.send_secret(m::PinMatrixAck { pin: pin.clone() })?;
                    }
                    None => {
                        self.cancel_prompt()?;
                        return Err(SignerError::Cancelled);
                    }
                },
                m::PassphraseRequest::TYPE => {
                    let ack = match ui.passphrase() {
                        Some(p) => m::PassphraseAck {
                            passphrase: Some(p.expose().clone()),
                            on_device: None,
                        },
                        None if self.passphrase_on_device => m::PassphraseAck {
                            passphrase: None,
                            on_device: Some(true),
                        },
                        None => {
                            self.cancel_prompt()?;
                            return Err(SignerError::Cancelled);
                        }
                    };
                    self.send_secret(ack)?;
                }
                m::Failure::TYPE => {
                    let f = decode::<m::Failure>(t, &body)?;
                    return Err(failure_error(&f));
                }
                _ => return Ok((t, body)),
            }
        }
    }

    /// Cancels a PIN or passphrase prompt and consumes the device's Failure.
    fn cancel_prompt(&mut self) -> Result<(), SignerError> {
        self.send(&m::Cancel {})?;
        let _ = self.read_raw(DRAIN_TIMEOUT);
        Ok(())
    }

    /// Best effort: stop whatever the device is doing and forget answers in flight.
    pub fn abort(&mut self) {
        let _ = self.send(&m::Cancel {});
        while self.read_raw(DRAIN_TIMEOUT).is_ok() {}
    }

    fn send<M: Wire>(&mut self, msg: &M) -> Result<(), SignerError> {
        self.write_raw(M::TYPE, &msg.encode_to_vec())
    }

    /// Sends a message holding a PIN or passphrase, wiping every copy once sent.
    fn send_secret<M: Wire + Zeroize>(&mut self, mut msg: M) -> Result<(), SignerError> {
        let mut payload = msg.encode_to_vec();
        msg.zeroize();
        let packets = frame(M::TYPE, &payload).map_err(framing_error);
        payload.zeroize();
        let mut packets = packets?;
        let mut r = Ok(());
        for p in &packets {
            r = self.transport.write_packet(p).map_err(transport_error);
            if r.is_err() {
                break;
            }
        }
        packets.iter_mut().for_each(|p| p.zeroize());
        r
    }

    /// Sends `req` and decodes the answer as `R`.
    pub fn call<Q: Wire, R: Wire>(
        &mut self,
        req: &Q,
        prompt: &Prompt,
        ui: &dyn Interaction,
    ) -> Result<R, SignerError> {
        let (t, body) = self.call_raw(Q::TYPE, &req.encode_to_vec(), prompt, ui)?;
        let r = decode::<R>(t, &body);
        if r.is_err() {
            self.abort();
        }
        r
    }

    /// Sends `req` and returns the raw answer (for streams with several answer types).
    pub fn call_any<Q: Wire>(
        &mut self,
        req: &Q,
        prompt: &Prompt,
        ui: &dyn Interaction,
    ) -> Result<(u16, Vec<u8>), SignerError> {
        self.call_raw(Q::TYPE, &req.encode_to_vec(), prompt, ui)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_or_unexpected_message_type_is_a_typed_error() {
        let e = decode::<m::Features>(9999, &[]).expect_err("unknown");
        assert!(
            matches!(&e, SignerError::BadResponse(m) if m.contains("message type 9999")),
            "{e}"
        );
        let e = decode::<m::Features>(m::Address::TYPE, &[]).expect_err("other");
        assert!(
            matches!(&e, SignerError::BadResponse(m) if m.contains("expected Features, got Address")),
            "{e}"
        );
        assert!(decode::<m::Features>(m::Features::TYPE, &[0xff]).is_err());
    }

    #[test]
    fn failures_map_to_what_the_user_can_do() {
        let f = |code: FailureType| m::Failure {
            code: Some(code as i32),
            message: Some("x".into()),
        };
        assert!(matches!(
            failure_error(&f(FailureType::ActionCancelled)),
            SignerError::Rejected
        ));
        assert!(matches!(
            failure_error(&f(FailureType::PinInvalid)),
            SignerError::WrongPin
        ));
        assert!(matches!(
            failure_error(&f(FailureType::PinCancelled)),
            SignerError::Cancelled
        ));
        assert!(matches!(
            failure_error(&f(FailureType::DataError)),
            SignerError::InvalidRequest(_)
        ));
        assert!(matches!(
            failure_error(&m::Failure {
                code: Some(12345),
                message: None
            }),
            SignerError::Device { .. }
        ));
    }
}
