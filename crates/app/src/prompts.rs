//! What a device asks of the person at the computer while an operation runs — "confirm on
//! your device", a Trezor One / KeepKey PIN matrix, a passphrase — held here so the UI can
//! show it and answer. The device operation waits (on its worker thread) for the answer; the
//! UI reads [`Coldlink::device_prompt`] and answers through the `answer_*` calls.

use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard},
    time::Duration,
};

use coldlink_signer::{Interaction, Prompt};
use coldlink_types::Sensitive;
use serde::Serialize;
use zeroize::Zeroize;

use crate::{AppError, Coldlink, ErrorKind};

/// How long a PIN or passphrase question waits for the person.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the device is waiting for, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum DevicePrompt {
    /// Confirm on the device; `lines` repeat what it shows.
    ConfirmOnDevice {
        /// Title.
        title: String,
        /// (label, value) pairs in the device's order.
        lines: Vec<(String, String)>,
    },
    /// Click, on the blank 3×3 pad, the cells where the device shows your PIN's digits.
    PinMatrix,
    /// Type the passphrase here, or choose to type it on the device (when it can).
    Passphrase,
}

enum Answer {
    Pin(String),
    Passphrase(Option<String>),
    Cancel,
}

#[derive(Default)]
struct State {
    prompt: Option<DevicePrompt>,
    answer: Option<Answer>,
}

/// The shared question slot; also the [`Interaction`] device operations use.
#[derive(Clone, Default)]
pub(crate) struct Prompts(Arc<(Mutex<State>, Condvar)>);

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompts")
    }
}

impl Prompts {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0 .0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ask(&self, prompt: DevicePrompt) -> Option<Answer> {
        let mut g = self.state();
        g.prompt = Some(prompt);
        g.answer = None;
        let (g2, _) = self
            .0
             .1
            .wait_timeout_while(g, ANSWER_TIMEOUT, |s| s.answer.is_none())
            .unwrap_or_else(|p| p.into_inner());
        let mut g = g2;
        g.prompt = None;
        g.answer.take()
    }

    fn answer(&self, a: Answer, want: fn(&DevicePrompt) -> bool) -> Result<(), AppError> {
        let mut g = self.state();
        if !g.prompt.as_ref().is_some_and(want) {
            return Err(AppError::new(
                ErrorKind::NotFound,
                "the device is not waiting for that any more",
            ));
        }
        g.answer = Some(a);
        self.0 .1.notify_all();
        Ok(())
    }

    /// Ends any question and clears what is shown (the operation finished).
    pub(crate) fn clear(&self) {
        let mut g = self.state();
        g.prompt = None;
    }
}

impl Interaction for Prompts {
    fn confirm_on_device(&self, prompt: &Prompt) {
        let (title, lines) = match prompt {
            Prompt::Address(a) => (
                "Check the address on your device".to_owned(),
                vec![("Address".to_owned(), a.clone())],
            ),
            Prompt::Transaction(lines) => ("Confirm on your device".to_owned(), lines.clone()),
            Prompt::Other(text) => (text.clone(), vec![]),
        };
        self.state().prompt = Some(DevicePrompt::ConfirmOnDevice { title, lines });
    }

    fn pin_matrix(&self) -> Option<Sensitive<String>> {
        match self.ask(DevicePrompt::PinMatrix)? {
            Answer::Pin(p) => Some(Sensitive::new(p)),
            _ => None,
        }
    }

    fn passphrase(&self) -> Option<Sensitive<String>> {
        match self.ask(DevicePrompt::Passphrase)? {
            Answer::Passphrase(p) => p.map(Sensitive::new),
            _ => None,
        }
    }
}

impl Coldlink {
    /// What a running device operation is waiting for, if anything.
    pub fn device_prompt(&self) -> Option<DevicePrompt> {
        self.prompts.state().prompt.clone()
    }

    /// Answers a PIN matrix with the clicked positions ("1"–"9" per click, keypad layout).
    pub fn answer_pin_matrix(&self, positions: &str) -> Result<(), AppError> {
        let mut p = positions.trim().to_owned();
        if p.is_empty() || p.len() > 50 || !p.bytes().all(|b| (b'1'..=b'9').contains(&b)) {
            p.zeroize();
            return Err(AppError::invalid("the PIN pad gives positions 1 to 9"));
        }
        self.prompts
            .answer(Answer::Pin(p), |q| matches!(q, DevicePrompt::PinMatrix))
    }

    /// Answers a passphrase request: `Some(text)` typed here (the empty string is the empty
    /// passphrase), `None` to type it on the device.
    pub fn answer_passphrase(&self, passphrase: Option<String>) -> Result<(), AppError> {
        self.prompts.answer(Answer::Passphrase(passphrase), |q| {
            matches!(q, DevicePrompt::Passphrase)
        })
    }

    /// Cancels the PIN or passphrase question (the operation fails as cancelled).
    pub fn cancel_device_prompt(&self) -> Result<(), AppError> {
        self.prompts.answer(Answer::Cancel, |q| {
            matches!(q, DevicePrompt::PinMatrix | DevicePrompt::Passphrase)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_question_waits_for_the_ui_and_takes_positions_only() {
        let app = Coldlink::new(crate::config::test_config());
        let ui = app.prompts.clone();
        let asking = std::thread::spawn(move || ui.pin_matrix().map(|p| p.expose().clone()));
        while app.device_prompt() != Some(DevicePrompt::PinMatrix) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            app.answer_pin_matrix("12a").expect_err("digits only").kind,
            ErrorKind::InvalidInput
        );
        assert!(
            app.answer_passphrase(Some("x".into())).is_err(),
            "not asked"
        );
        app.answer_pin_matrix("7415").expect("answered");
        assert_eq!(asking.join().expect("thread").as_deref(), Some("7415"));
        assert_eq!(app.device_prompt(), None);
        assert!(app.answer_pin_matrix("1").is_err(), "nothing is waiting");
    }
}
