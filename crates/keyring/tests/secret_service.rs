//! Against a real Secret Service. `scripts/test` runs this inside `dbus-run-session` with an
//! unlocked `gnome-keyring-daemon` on throwaway XDG folders; elsewhere it is ignored.

mod common;

use coldlink_keyring::{Backend, OsKeyring};

#[test]
#[ignore = "needs a Secret Service: scripts/test runs it in dbus-run-session with gnome-keyring"]
fn secret_service_round_trip() {
    let ring = OsKeyring::open(Backend::SecretService).expect("Secret Service");
    common::behaves(&ring);
    common::unlocks_a_wallet(&ring);
}
