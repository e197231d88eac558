//! Against the real Linux kernel keyring. `scripts/test` runs this under `keyctl session -`
//! (a fresh session keyring); elsewhere it is ignored.

mod common;

use coldlink_keyring::{Backend, OsKeyring};

#[test]
#[ignore = "needs a kernel session keyring: scripts/test runs it under keyctl session -"]
fn kernel_keyring_round_trip() {
    let ring = OsKeyring::open(Backend::KernelKeyring).expect("kernel keyring");
    common::behaves(&ring);
    common::unlocks_a_wallet(&ring);
}
