//! The virtual user at the simulated device, and the log of what its screen showed.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
};

/// What the virtual user does when the device asks for a confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Presses "approve".
    Approve,
    /// Presses "reject".
    Reject,
    /// Does nothing: the device keeps waiting and the host times out.
    Silent,
    /// Pulls the cable: the connection closes without an answer.
    Disconnect,
}

/// One screen the device showed for confirmation, as title and (label, value) lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screen {
    /// What is being confirmed ("Review transaction", "Verify address").
    pub title: String,
    /// The fields, in the order the device shows them.
    pub fields: Vec<(String, String)>,
}

impl Screen {
    /// The value shown for `label`, if any.
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Inner {
    locked: bool,
    app: Option<String>,
    decisions: VecDeque<Decision>,
    default: Decision,
    screens: Vec<Screen>,
    /// Drop the connection when this many more APDUs have arrived (1 = the next one).
    disconnect_in: Option<usize>,
    /// What the user will type on the device itself (PIN or passphrase), in order.
    typed: VecDeque<String>,
}

/// The handle a test (or the demo UI) holds to play the user and inspect the device.
/// Cloning it gives another handle to the same device.
#[derive(Clone, Debug)]
pub struct Control(Arc<Mutex<Inner>>);

impl Default for Control {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Inner {
            locked: false,
            app: None,
            decisions: VecDeque::new(),
            default: Decision::Approve,
            screens: Vec::new(),
            disconnect_in: None,
            typed: VecDeque::new(),
        })))
    }
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge the device for the others.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks or unlocks the device (as if the PIN was entered).
    pub fn set_locked(&self, locked: bool) {
        self.lock().locked = locked;
    }

    /// Whether the device is locked.
    pub fn is_locked(&self) -> bool {
        self.lock().locked
    }

    /// Opens `app` (or returns to the dashboard with `None`) as if done by hand.
    pub fn set_app(&self, app: Option<&str>) {
        self.lock().app = app.map(str::to_owned);
    }

    /// The open app, `None` on the dashboard.
    pub fn app(&self) -> Option<String> {
        self.lock().app.clone()
    }

    /// Queues decisions for the next confirmations, in order.
    pub fn then(&self, decisions: impl IntoIterator<Item = Decision>) {
        self.lock().decisions.extend(decisions);
    }

    /// What the user does once the queue is empty (initially: approve).
    pub fn set_default(&self, d: Decision) {
        self.lock().default = d;
    }

    /// Every screen shown so far.
    pub fn screens(&self) -> Vec<Screen> {
        self.lock().screens.clone()
    }

    /// The most recent screen.
    pub fn last_screen(&self) -> Option<Screen> {
        self.lock().screens.last().cloned()
    }

    /// Pulls the cable when the `n`-th APDU (or Trezor message) from now arrives (1 = the
    /// next), whatever it is:
    /// for testing that an exchange interrupted at any step leaves nothing half done.
    pub fn disconnect_at_apdu(&self, n: usize) {
        self.lock().disconnect_in = Some(n.max(1));
    }

    /// Queues text the user will type on the device's own screen when it asks (a Model T's
    /// PIN or passphrase). With nothing queued the user types nothing and the host times out.
    pub fn type_on_device(&self, text: impl Into<String>) {
        self.lock().typed.push_back(text.into());
    }

    /// The next text the user types on the device, if any.
    pub(crate) fn typed(&self) -> Option<String> {
        self.lock().typed.pop_front()
    }

    /// Forgets a pending [`Control::disconnect_at_apdu`].
    pub fn stay_connected(&self) {
        self.lock().disconnect_in = None;
    }

    /// Counts one incoming APDU; true if the cable is pulled now.
    pub(crate) fn apdu_arrived(&self) -> bool {
        let mut g = self.lock();
        match g.disconnect_in {
            Some(1) => {
                g.disconnect_in = None;
                true
            }
            Some(n) => {
                g.disconnect_in = Some(n - 1);
                false
            }
            None => false,
        }
    }

    /// Shows an informational screen the user only scrolls through.
    pub(crate) fn show(&self, screen: Screen) {
        self.lock().screens.push(screen);
    }

    /// Shows `screen` and returns what the user does about it.
    pub(crate) fn confirm(&self, screen: Screen) -> Decision {
        let mut g = self.lock();
        g.screens.push(screen);
        let d = g.default;
        g.decisions.pop_front().unwrap_or(d)
    }
}
