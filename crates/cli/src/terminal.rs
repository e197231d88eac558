//! The person at the terminal, for devices' questions: "confirm on your device" goes to
//! standard error; a Trezor One / KeepKey PIN matrix is answered by typing the positions of the
//! PIN's digits (keypad layout) when standard input is a terminal; a passphrase comes from
//! `COLDLINK_PASSPHRASE` if set, otherwise the device is asked to take it on its own screen.

use std::io::{BufRead, IsTerminal, Write};

use coldlink_signer::{Interaction, Prompt};
use coldlink_types::Sensitive;

/// Answers devices' questions on the terminal.
pub(crate) struct Terminal;

impl Interaction for Terminal {
    fn confirm_on_device(&self, prompt: &Prompt) {
        let mut e = std::io::stderr().lock();
        match prompt {
            Prompt::Address(a) => {
                let _ = writeln!(e, "Check that your device shows this address: {a}");
            }
            Prompt::Transaction(lines) => {
                let _ = writeln!(e, "Confirm on your device:");
                for (k, v) in lines {
                    let _ = writeln!(e, "  {k}: {v}");
                }
            }
            Prompt::Other(text) => {
                let _ = writeln!(e, "{text}: confirm on your device");
            }
        }
    }

    fn pin_matrix(&self) -> Option<Sensitive<String>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            eprintln!("The device asks for its PIN: run coldlink in a terminal to enter it.");
            return None;
        }
        eprintln!(
            "Enter the PIN: your device shows the digits scrambled on a 3×3 grid. For each digit,\n\
             type the number of its cell on this grid, then press Enter (empty cancels):\n\
             \n  7 8 9\n  4 5 6\n  1 2 3\n"
        );
        let mut line = String::new();
        stdin.lock().read_line(&mut line).ok()?;
        let p: String = line.trim().to_owned();
        line.clear();
        (!p.is_empty()).then(|| Sensitive::new(p))
    }

    fn passphrase(&self) -> Option<Sensitive<String>> {
        std::env::var("COLDLINK_PASSPHRASE")
            .ok()
            .map(Sensitive::new)
    }
}
