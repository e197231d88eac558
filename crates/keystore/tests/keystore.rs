//! The keystore's promises, tested on real files.

// Helpers outside #[test] functions may fail the test loudly.
#![allow(clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use coldlink_keystore::{
    change_password, create, delete, disable_keyring, enable_keyring, keyring_id, unlock,
    KdfParams, KeystoreError, Unlock,
};
use coldlink_types::Sensitive;

const SECRET: &[u8] = b"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const P: KdfParams = KdfParams::INSECURE_FOR_TESTS;

fn pw(s: &str) -> Sensitive<String> {
    Sensitive::new(s.to_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coldlink-ks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn open(path: &Path, p: &str) -> Result<Vec<u8>, KeystoreError> {
    unlock(path, Unlock::Password(&pw(p))).map(|s| s.expose().clone())
}

#[test]
fn round_trip_and_a_wrong_password_changes_nothing() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("wallet.keystore");
    create(&path, SECRET, &pw("correct horse"), P).expect("created");
    assert_eq!(open(&path, "correct horse").expect("opens"), SECRET);
    let before = std::fs::read(&path).expect("read");
    assert!(matches!(
        open(&path, "wrong"),
        Err(KeystoreError::WrongPassword)
    ));
    assert!(matches!(
        change_password(&path, &pw("wrong"), &pw("x"), P),
        Err(KeystoreError::WrongPassword)
    ));
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "nothing written"
    );
    assert_eq!(open(&path, "correct horse").expect("retry works"), SECRET);
    assert!(
        create(&path, SECRET, &pw("other"), P).is_err(),
        "never replaces a wallet"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn password_change_and_keyring_slot() {
    let dir = temp_dir("slots");
    let path = dir.join("w.keystore");
    create(&path, SECRET, &pw("one"), P).expect("created");
    let key = Sensitive::new([7u8; 32]);
    assert_eq!(keyring_id(&path).expect("read"), None);
    let id = enable_keyring(&path, &pw("one"), &key).expect("enabled");
    assert_eq!(keyring_id(&path).expect("read"), Some(id));
    let got = unlock(&path, Unlock::KeyringKey(&key)).expect("keyring opens");
    assert_eq!(got.expose().as_slice(), SECRET);
    assert!(matches!(
        unlock(&path, Unlock::KeyringKey(&Sensitive::new([8u8; 32]))),
        Err(KeystoreError::KeyringMismatch)
    ));
    change_password(&path, &pw("one"), &pw("two"), P).expect("changed");
    assert!(matches!(
        open(&path, "one"),
        Err(KeystoreError::WrongPassword)
    ));
    assert_eq!(open(&path, "two").expect("new password"), SECRET);
    // A password change re-keys the file: the keyring must be enabled again.
    assert_eq!(keyring_id(&path).expect("read"), None);
    enable_keyring(&path, &pw("two"), &key).expect("re-enabled");
    disable_keyring(&path, &pw("two")).expect("disabled");
    assert!(unlock(&path, Unlock::KeyringKey(&key)).is_err());
    assert!(matches!(
        delete(&path, &pw("one")),
        Err(KeystoreError::WrongPassword)
    ));
    assert!(path.exists());
    delete(&path, &pw("two")).expect("deleted");
    assert!(matches!(
        open(&path, "two"),
        Err(KeystoreError::NotFound(_))
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn any_flipped_byte_or_truncation_is_a_typed_error_and_is_never_overwritten() {
    let dir = temp_dir("tamper");
    let path = dir.join("w.keystore");
    create(&path, SECRET, &pw("pw"), P).expect("created");
    let key = Sensitive::new([9u8; 32]);
    enable_keyring(&path, &pw("pw"), &key).expect("keyring");
    let good = std::fs::read(&path).expect("read");
    let bad = dir.join("bad.keystore");
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = good.clone();
            b[i] ^= bit;
            std::fs::write(&bad, &b).expect("write");
            assert!(
                matches!(open(&bad, "pw"), Err(KeystoreError::Corrupt(_))),
                "byte {i} bit {bit:#x}"
            );
            assert!(unlock(&bad, Unlock::KeyringKey(&key)).is_err());
            assert!(change_password(&bad, &pw("pw"), &pw("new"), P).is_err());
            assert_eq!(
                std::fs::read(&bad).expect("read"),
                b,
                "a damaged file is left alone"
            );
        }
    }
    for len in 0..good.len() {
        std::fs::write(&bad, &good[..len]).expect("write");
        assert!(
            matches!(open(&bad, "pw"), Err(KeystoreError::Corrupt(_))),
            "len {len}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

const CHILD_ENV: &str = "COLDLINK_KEYSTORE_CRASH_CHILD";

/// Not a test by itself: the writer the crash test runs in a child process and kills.
#[test]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    loop {
        let _ = change_password(&path, &pw("alpha"), &pw("beta"), P);
        let _ = change_password(&path, &pw("beta"), &pw("alpha"), P);
    }
}

#[test]
fn a_writer_killed_at_random_points_always_leaves_a_valid_keystore() {
    let dir = temp_dir("crash");
    let path = dir.join("w.keystore");
    create(&path, SECRET, &pw("alpha"), P).expect("created");
    let exe = std::env::current_exe().expect("test binary");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let (mut saw_alpha, mut saw_beta) = (0, 0);
    for trial in 0..200 {
        let mut child = Command::new(&exe)
            .args(["crash_writer_child", "--exact", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn writer");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(3_000 + seed % 25_000));
        child.kill().expect("kill");
        child.wait().expect("reap");
        match (open(&path, "alpha"), open(&path, "beta")) {
            (Ok(s), _) => {
                assert_eq!(s, SECRET, "trial {trial}");
                saw_alpha += 1;
            }
            (_, Ok(s)) => {
                assert_eq!(s, SECRET, "trial {trial}");
                saw_beta += 1;
            }
            (a, b) => panic!("trial {trial}: no valid keystore left: {a:?} / {b:?}"),
        }
    }
    // The kills landed at different points of the write cycle.
    assert!(
        saw_alpha > 0 && saw_beta > 0,
        "alpha {saw_alpha}, beta {saw_beta}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn errors_carry_no_secret() {
    let dir = temp_dir("nosecret");
    let path = dir.join("w.keystore");
    create(&path, SECRET, &pw("hunter2"), P).expect("created");
    let e = open(&path, "hunter3").expect_err("wrong");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("hunter"), "{text}");
        assert!(!text.contains("abandon"), "{text}");
    }
    assert_eq!(format!("{:?}", pw("hunter2")), "<redacted>");
    let _ = std::fs::remove_dir_all(dir);
}
