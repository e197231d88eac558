//! The software wallet as a use case: create (a recovery phrase shown once, then some of its
//! words asked back), restore, unlock with the password or the OS keyring, lock (also after an
//! idle time), and the first receive address. The seed lives encrypted in the keystore file and,
//! while unlocked, only in memory.

use std::{
    path::PathBuf,
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bitcoin::bip32::DerivationPath;
use coldlink_keyring::OsKeyring;
use coldlink_keystore::{KdfParams, KeystoreError, Unlock};
use coldlink_signer::{BitcoinSigner, ScriptKind};
use coldlink_soft::{MnemonicError, SoftWallet};
use coldlink_types::Sensitive;
use serde::Serialize;

use crate::{AppError, Coldlink, ErrorKind};

/// What the UI shows about the software wallet.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct WalletStatus {
    /// A wallet file exists.
    pub exists: bool,
    /// It is unlocked now.
    pub unlocked: bool,
    /// It can be unlocked from the OS keyring.
    pub keyring: bool,
    /// Minutes of inactivity after which it locks itself.
    pub auto_lock_minutes: u32,
}

/// A wallet just created or restored.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWallet {
    /// Its first receive address.
    pub address: String,
    /// Why keyring unlock could not be set up, when it was asked for and failed; the password
    /// still opens the wallet.
    pub keyring_note: Option<String>,
}

/// A new recovery phrase, shown once for the backup, and which words to ask back.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewPhrase {
    /// The words, in order. The one place a secret is sent to the UI: the backup screen.
    pub words: Vec<String>,
    /// 1-based positions the user must type back to prove the backup.
    pub confirm_positions: Vec<u32>,
}

#[derive(Default)]
pub(crate) struct SoftState {
    pending: Option<(Sensitive<String>, Vec<usize>)>,
    unlocked: Option<(SoftWallet, Instant)>,
    auto_lock: Option<Duration>,
    kdf: Option<KdfParams>,
}

/// Shared state of the software wallet (one per app).
#[derive(Clone, Default)]
pub(crate) struct SoftSlot(Arc<Mutex<SoftState>>);

impl std::fmt::Debug for SoftSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftSlot(<redacted>)")
    }
}

const DEFAULT_AUTO_LOCK: Duration = Duration::from_secs(15 * 60);

fn keystore_error(e: KeystoreError) -> AppError {
    let kind = match e {
        KeystoreError::WrongPassword | KeystoreError::KeyringMismatch => ErrorKind::InvalidInput,
        KeystoreError::NotFound(_) => ErrorKind::NotFound,
        _ => ErrorKind::Internal,
    };
    AppError::new(kind, crate::error::capitalise(&e.to_string()))
}

fn phrase_error(e: MnemonicError) -> AppError {
    let msg = match &e {
        MnemonicError::UnknownWord {
            position,
            suggestions,
        } if !suggestions.is_empty() => format!(
            "Word {position} is not a recovery-phrase word. Did you mean: {}?",
            suggestions.join(", ")
        ),
        other => crate::error::capitalise(&other.to_string()),
    };
    AppError::invalid(msg)
}

fn first_address(w: &mut SoftWallet) -> Result<String, AppError> {
    let account =
        DerivationPath::from_str("m/84'/0'/0'").map_err(|e| AppError::internal(e.to_string()))?;
    Ok(w.display_address(
        ScriptKind::NativeSegwit,
        &account,
        false,
        0,
        &coldlink_signer::Headless,
    )?)
}

impl Coldlink {
    fn wallet_path(&self) -> PathBuf {
        self.data_dir().join("wallet.keystore")
    }

    fn soft(&self) -> std::sync::MutexGuard<'_, SoftState> {
        let mut s = self.soft.0.lock().unwrap_or_else(|p| p.into_inner());
        // Auto-lock: a wallet idle for longer than the limit is locked before anything else.
        let limit = s.auto_lock.unwrap_or(DEFAULT_AUTO_LOCK);
        if s.unlocked
            .as_ref()
            .is_some_and(|(_, t)| t.elapsed() > limit)
        {
            s.unlocked = None;
        }
        s
    }

    /// Sets the idle time after which the wallet locks itself.
    pub fn wallet_set_auto_lock(&self, after: Duration) {
        self.soft().auto_lock = Some(after);
    }

    /// Sets the idle time, in minutes as people choose it (1 minute to 24 hours).
    pub fn wallet_set_auto_lock_minutes(&self, minutes: u32) -> Result<(), AppError> {
        if !(1..=1440).contains(&minutes) {
            return Err(AppError::invalid("Choose between 1 minute and 24 hours"));
        }
        self.wallet_set_auto_lock(Duration::from_secs(u64::from(minutes) * 60));
        Ok(())
    }

    /// Uses `params` for new keystores instead of calibrating (tests).
    pub fn wallet_set_kdf(&self, params: KdfParams) {
        self.soft().kdf = Some(params);
    }

    /// The wallet's state.
    pub fn wallet_status(&self) -> WalletStatus {
        let path = self.wallet_path();
        let s = self.soft();
        WalletStatus {
            exists: path.exists(),
            unlocked: s.unlocked.is_some(),
            keyring: coldlink_keystore::keyring_id(&path)
                .ok()
                .flatten()
                .is_some(),
            auto_lock_minutes: (s.auto_lock.unwrap_or(DEFAULT_AUTO_LOCK).as_secs() / 60) as u32,
        }
    }

    /// Starts creating a wallet: a fresh phrase of 12 or 24 words for the backup screen.
    pub fn wallet_new_phrase(&self, words: u32) -> Result<NewPhrase, AppError> {
        self.ensure_no_wallet()?;
        let phrase = coldlink_soft::generate_mnemonic(words as usize).map_err(phrase_error)?;
        let n = phrase.expose().split(' ').count();
        let mut positions = Vec::new();
        while positions.len() < 3 {
            let mut b = [0u8; 2];
            getrandom::getrandom(&mut b).map_err(|_| AppError::internal("no randomness"))?;
            let p = usize::from(u16::from_le_bytes(b)) % n;
            if !positions.contains(&p) {
                positions.push(p);
            }
        }
        positions.sort_unstable();
        let out = NewPhrase {
            words: phrase.expose().split(' ').map(str::to_owned).collect(),
            confirm_positions: positions.iter().map(|p| *p as u32 + 1).collect(),
        };
        self.soft().pending = Some((phrase, positions));
        Ok(out)
    }

    /// Finishes creating: checks the words asked back, encrypts the phrase under `password`,
    /// and returns the first receive address.
    pub fn wallet_create(
        &self,
        answers: &[String],
        passphrase: &Sensitive<String>,
        password: &Sensitive<String>,
        use_keyring: bool,
    ) -> Result<CreatedWallet, AppError> {
        let (phrase, positions) = {
            let s = self.soft();
            let (p, pos) = s.pending.as_ref().ok_or_else(|| {
                AppError::invalid("Start again: no recovery phrase is waiting to be confirmed")
            })?;
            (Sensitive::new(p.expose().clone()), pos.clone())
        };
        let words: Vec<&str> = phrase.expose().split(' ').collect();
        if answers.len() != positions.len()
            || positions
                .iter()
                .zip(answers)
                .any(|(p, a)| words.get(*p).is_none_or(|w| *w != a.trim().to_lowercase()))
        {
            return Err(AppError::invalid(
                "Those words do not match your recovery phrase: check your backup and try again",
            ));
        }
        let created = self.store_new(&phrase, passphrase, password, use_keyring)?;
        self.soft().pending = None;
        Ok(created)
    }

    /// Restores from a typed phrase; returns the first receive address.
    pub fn wallet_restore(
        &self,
        phrase: &Sensitive<String>,
        passphrase: &Sensitive<String>,
        password: &Sensitive<String>,
        use_keyring: bool,
    ) -> Result<CreatedWallet, AppError> {
        self.ensure_no_wallet()?;
        let m = coldlink_soft::parse_mnemonic(phrase.expose()).map_err(phrase_error)?;
        let normal = Sensitive::new(m.to_string());
        self.store_new(&normal, passphrase, password, use_keyring)
    }

    /// One software wallet at a time: refuse to start another over it.
    fn ensure_no_wallet(&self) -> Result<(), AppError> {
        if self.wallet_path().exists() {
            return Err(AppError::invalid(
                "A software wallet already exists: delete it first",
            ));
        }
        Ok(())
    }

    fn store_new(
        &self,
        phrase: &Sensitive<String>,
        passphrase: &Sensitive<String>,
        password: &Sensitive<String>,
        use_keyring: bool,
    ) -> Result<CreatedWallet, AppError> {
        if password.expose().chars().count() < 8 {
            return Err(AppError::invalid(
                "Choose a password of at least 8 characters",
            ));
        }
        let mut w = SoftWallet::from_mnemonic(phrase, passphrase).map_err(phrase_error)?;
        let path = self.wallet_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal(e.to_string()))?;
        }
        let params = self
            .soft()
            .kdf
            .unwrap_or_else(|| KdfParams::calibrate(Duration::from_millis(250)));
        let secret =
            Sensitive::new(format!("{}\n{}", phrase.expose(), passphrase.expose()).into_bytes());
        coldlink_keystore::create(&path, secret.expose(), password, params)
            .map_err(keystore_error)?;
        // Without a keyring the password still opens the wallet; the user is told why.
        let keyring_note = if use_keyring {
            self.enable_keyring_unlock(password)
                .err()
                .map(|e| e.message)
        } else {
            None
        };
        let address = first_address(&mut w)?;
        self.soft().unlocked = Some((w, Instant::now()));
        Ok(CreatedWallet {
            address,
            keyring_note,
        })
    }

    fn enable_keyring_unlock(&self, password: &Sensitive<String>) -> Result<(), AppError> {
        let ring =
            OsKeyring::best().map_err(|e| AppError::new(ErrorKind::Unsupported, e.to_string()))?;
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|_| AppError::internal("no randomness"))?;
        let key = Sensitive::new(raw);
        zeroize::Zeroize::zeroize(&mut raw);
        let id = coldlink_keystore::enable_keyring(&self.wallet_path(), password, &key)
            .map_err(keystore_error)?;
        ring.put(&id, &key)
            .map_err(|e| AppError::new(ErrorKind::Unsupported, e.to_string()))
    }

    /// Unlocks with the password, or with the OS keyring when `password` is `None`.
    pub fn wallet_unlock(&self, password: Option<&Sensitive<String>>) -> Result<(), AppError> {
        let path = self.wallet_path();
        let secret = match password {
            Some(p) => {
                coldlink_keystore::unlock(&path, Unlock::Password(p)).map_err(keystore_error)?
            }
            None => {
                let id = coldlink_keystore::keyring_id(&path)
                    .map_err(keystore_error)?
                    .ok_or_else(|| {
                        AppError::invalid(
                            "Keyring unlock is not enabled for this wallet: use the password",
                        )
                    })?;
                let ring = OsKeyring::best()
                    .map_err(|e| AppError::new(ErrorKind::Unsupported, e.to_string()))?;
                let key = ring
                    .get(&id)
                    .map_err(|e| AppError::new(ErrorKind::Unsupported, e.to_string()))?;
                coldlink_keystore::unlock(&path, Unlock::KeyringKey(&key))
                    .map_err(keystore_error)?
            }
        };
        let text = String::from_utf8(secret.expose().clone())
            .map_err(|_| AppError::internal("the wallet file holds an unreadable phrase"))?;
        let (phrase, passphrase) = text.split_once('\n').unwrap_or((&text, ""));
        let w = SoftWallet::from_mnemonic(
            &Sensitive::new(phrase.to_owned()),
            &Sensitive::new(passphrase.to_owned()),
        )
        .map_err(phrase_error)?;
        self.soft().unlocked = Some((w, Instant::now()));
        Ok(())
    }

    /// Changes the password (re-encrypting atomically). Keyring unlock must be enabled again.
    pub fn wallet_change_password(
        &self,
        old: &Sensitive<String>,
        new: &Sensitive<String>,
    ) -> Result<(), AppError> {
        if new.expose().chars().count() < 8 {
            return Err(AppError::invalid(
                "Choose a password of at least 8 characters",
            ));
        }
        let params = self
            .soft()
            .kdf
            .unwrap_or_else(|| KdfParams::calibrate(Duration::from_millis(250)));
        let path = self.wallet_path();
        let old_id = coldlink_keystore::keyring_id(&path).ok().flatten();
        coldlink_keystore::change_password(&path, old, new, params).map_err(keystore_error)?;
        if let (Some(id), Ok(ring)) = (old_id, OsKeyring::best()) {
            let _ = ring.delete(&id);
        }
        Ok(())
    }

    /// Deletes the wallet file (and its keyring key). Needs the password and `confirm` set to
    /// the word "delete", so a stray click cannot do it.
    pub fn wallet_delete(
        &self,
        password: &Sensitive<String>,
        confirm: &str,
    ) -> Result<(), AppError> {
        if confirm.trim().to_lowercase() != "delete" {
            return Err(AppError::invalid(
                "Type “delete” to confirm: this removes the wallet from this computer",
            ));
        }
        let path = self.wallet_path();
        let id = coldlink_keystore::keyring_id(&path).ok().flatten();
        coldlink_keystore::delete(&path, password).map_err(keystore_error)?;
        if let (Some(id), Ok(ring)) = (id, OsKeyring::best()) {
            let _ = ring.delete(&id);
        }
        self.soft().unlocked = None;
        Ok(())
    }

    /// Locks now: the seed leaves memory.
    pub fn wallet_lock(&self) {
        self.soft().unlocked = None;
    }

    /// The first receive address (BIP84, account 0); the wallet must be unlocked.
    pub fn wallet_receive_address(&self) -> Result<String, AppError> {
        let mut s = self.soft();
        let (w, touched) = s.unlocked.as_mut().ok_or_else(|| {
            AppError::new(
                ErrorKind::DeviceLocked,
                "The software wallet is locked: unlock it with your password",
            )
        })?;
        *touched = Instant::now();
        first_address(w)
    }

    /// Runs `f` with the unlocked software wallet (counts as activity for auto-lock).
    pub(crate) fn with_soft_wallet<T>(
        &self,
        f: impl FnOnce(&mut SoftWallet) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut s = self.soft();
        let (w, touched) = s.unlocked.as_mut().ok_or_else(|| {
            AppError::new(
                ErrorKind::DeviceLocked,
                "The software wallet is locked: unlock it with your password",
            )
        })?;
        *touched = Instant::now();
        f(w)
    }

    /// Autocomplete and corrections for one typed word of a recovery phrase.
    pub fn wallet_suggest(&self, typed: &str) -> Vec<String> {
        coldlink_soft::suggest(typed)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppConfig;

    fn app(name: &str) -> Coldlink {
        let dir = std::env::temp_dir().join(format!("coldlink-app-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let app = Coldlink::new(AppConfig {
            data_dir: Some(dir),
            ..Default::default()
        });
        app.wallet_set_kdf(KdfParams::INSECURE_FOR_TESTS);
        app
    }

    fn s(t: &str) -> Sensitive<String> {
        Sensitive::new(t.to_owned())
    }

    #[test]
    fn create_backup_confirm_then_lock_and_unlock() {
        let a = app("create");
        let phrase = a.wallet_new_phrase(12).expect("phrase");
        assert_eq!(phrase.words.len(), 12);
        let answers: Vec<String> = phrase
            .confirm_positions
            .iter()
            .map(|p| phrase.words[*p as usize - 1].clone())
            .collect();
        let mut wrong = answers.clone();
        wrong[0] = if wrong[0] == "zoo" {
            "abandon".into()
        } else {
            "zoo".into()
        };
        assert!(a
            .wallet_create(&wrong, &s(""), &s("password1"), false)
            .is_err());
        assert!(a
            .wallet_create(&answers, &s(""), &s("short"), false)
            .is_err());
        let created = a
            .wallet_create(&answers, &s(""), &s("password1"), false)
            .expect("created");
        assert_eq!(created.keyring_note, None, "keyring not asked for");
        let addr = created.address;
        assert!(addr.starts_with("bc1q"));
        assert!(a.wallet_status().exists && a.wallet_status().unlocked);
        a.wallet_lock();
        assert_eq!(
            a.wallet_receive_address().expect_err("locked").kind,
            ErrorKind::DeviceLocked
        );
        assert_eq!(
            a.wallet_unlock(Some(&s("nope"))).expect_err("wrong").kind,
            ErrorKind::InvalidInput
        );
        a.wallet_unlock(Some(&s("password1"))).expect("unlocked");
        assert_eq!(a.wallet_receive_address().expect("address"), addr);
        assert!(a.wallet_new_phrase(12).is_err(), "one wallet at a time");
    }

    #[test]
    fn restore_reports_the_wrong_word_and_suggests() {
        let a = app("restore");
        let typo = "abandon abandon abandon abandon abandon abandonn abandon abandon abandon abandon abandon about";
        let e = a
            .wallet_restore(&s(typo), &s(""), &s("password1"), false)
            .expect_err("typo");
        assert!(
            e.message.contains("Word 6") && e.message.contains("abandon"),
            "{}",
            e.message
        );
        let addr = a
            .wallet_restore(
                &s(&typo.replace("abandonn", "abandon")),
                &s(""),
                &s("password1"),
                false,
            )
            .expect("restored");
        assert_eq!(addr.address, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
        assert_eq!(a.wallet_suggest("abo"), vec!["about", "above"]);
        // Change the password, then delete: both need the right password; delete needs "delete".
        assert!(a
            .wallet_change_password(&s("nope"), &s("password2"))
            .is_err());
        assert!(a
            .wallet_change_password(&s("password1"), &s("short"))
            .is_err());
        a.wallet_change_password(&s("password1"), &s("password2"))
            .expect("changed");
        a.wallet_lock();
        assert!(a.wallet_unlock(Some(&s("password1"))).is_err());
        a.wallet_unlock(Some(&s("password2")))
            .expect("new password");
        assert!(a.wallet_delete(&s("password2"), "yes").is_err());
        assert!(a.wallet_delete(&s("password1"), "delete").is_err());
        assert!(a.wallet_status().exists);
        a.wallet_delete(&s("password2"), "delete").expect("deleted");
        assert!(!a.wallet_status().exists && !a.wallet_status().unlocked);
    }

    #[test]
    fn auto_lock_after_idle() {
        let a = app("autolock");
        let typo = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        a.wallet_restore(&s(typo), &s(""), &s("password1"), false)
            .expect("restored");
        a.wallet_set_auto_lock(Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(120));
        assert!(!a.wallet_status().unlocked, "locked itself");
        for bad in [0, 1441, u32::MAX] {
            assert_eq!(
                a.wallet_set_auto_lock_minutes(bad)
                    .expect_err("out of range")
                    .kind,
                ErrorKind::InvalidInput
            );
        }
        a.wallet_set_auto_lock_minutes(30).expect("valid");
        assert_eq!(a.wallet_status().auto_lock_minutes, 30);
    }
}
