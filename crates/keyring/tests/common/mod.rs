//! Shared by the Secret Service and kernel keyring tests: the same behaviour on both stores.

use coldlink_keyring::{KeyringError, OsKeyring};
use coldlink_keystore::{create, enable_keyring, unlock, KdfParams, Unlock};
use coldlink_types::Sensitive;

/// Put, replace, get, delete and the missing-key error.
pub(crate) fn behaves(ring: &OsKeyring) {
    let id = [0x5a; 16];
    let _ = ring.delete(&id);
    assert!(matches!(ring.get(&id), Err(KeyringError::NotFound)));
    ring.put(&id, &Sensitive::new([3u8; 32])).expect("put");
    assert_eq!(*ring.get(&id).expect("get").expose(), [3u8; 32]);
    ring.put(&id, &Sensitive::new([4u8; 32])).expect("replace");
    assert_eq!(*ring.get(&id).expect("get").expose(), [4u8; 32]);
    ring.delete(&id).expect("delete");
    ring.delete(&id).expect("deleting twice is fine");
    assert!(matches!(ring.get(&id), Err(KeyringError::NotFound)));
    // Text secrets (a node's password): any length, replaced, removed.
    assert!(matches!(ring.get_text(&id), Err(KeyringError::NotFound)));
    ring.put_text(
        &id,
        &Sensitive::new("pässword with spaces and 40+ characters, ok".into()),
    )
    .expect("put text");
    assert_eq!(
        ring.get_text(&id).expect("get text").expose(),
        "pässword with spaces and 40+ characters, ok"
    );
    ring.put_text(&id, &Sensitive::new("x".into()))
        .expect("replace");
    assert_eq!(ring.get_text(&id).expect("get text").expose(), "x");
    assert!(
        matches!(ring.get(&id), Err(KeyringError::Failed(_))),
        "a text is not a wallet key"
    );
    // Bytes that are not text (a wallet key stored under the id) are a typed error.
    ring.put(&id, &Sensitive::new([0xff; 32])).expect("put key");
    assert!(matches!(ring.get_text(&id), Err(KeyringError::Failed(_))));
    ring.delete(&id).expect("delete");
    assert!(matches!(ring.get_text(&id), Err(KeyringError::NotFound)));
}

/// Create a wallet, opt in to keyring unlock, unlock with what the keyring holds, and sign.
pub(crate) fn unlocks_a_wallet(ring: &OsKeyring) {
    let dir = std::env::temp_dir().join(format!(
        "coldlink-kr-{}-{:?}",
        std::process::id(),
        ring.backend()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("w.keystore");
    let secret = b"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    let pw = Sensitive::new("password".to_owned());
    create(&path, secret, &pw, KdfParams::INSECURE_FOR_TESTS).expect("create");
    let mut raw = [0u8; 32];
    raw.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i as u8).wrapping_mul(37).wrapping_add(11));
    let key = Sensitive::new(raw);
    let id = enable_keyring(&path, &pw, &key).expect("enable");
    ring.put(&id, &key).expect("store key");
    drop(key);
    let from_ring = ring.get(&id).expect("key back");
    let opened = unlock(&path, Unlock::KeyringKey(&from_ring)).expect("unlocks");
    assert_eq!(opened.expose().as_slice(), secret);
    // The unlocked phrase signs.
    use coldlink_signer::BitcoinSigner;
    let phrase = Sensitive::new(String::from_utf8(opened.expose().clone()).expect("utf8"));
    let mut w = coldlink_soft::SoftWallet::from_mnemonic(&phrase, &Sensitive::new(String::new()))
        .expect("wallet");
    let (mut psbt, _) = coldlink_sim::fixtures::spending_psbt(
        phrase.expose(),
        coldlink_signer::ScriptKind::NativeSegwit,
        1,
    );
    assert_eq!(
        w.sign_psbt(&mut psbt, &coldlink_signer::Headless)
            .expect("signed"),
        1
    );
    ring.delete(&id).expect("cleanup");
    let _ = std::fs::remove_dir_all(dir);
}
