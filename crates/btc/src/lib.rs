//! Bitcoin accounts as output descriptors. An account is a pair of single-signature
//! descriptors (receive `…/0/*` and change `…/1/*`) of one script kind — BIP44 `pkh`, BIP49
//! `sh(wpkh)`, BIP84 `wpkh` (the default), BIP86 `tr` — built from the xpub a signer returns with
//! its master fingerprint and origin path, or from what a user pastes to watch: an xpub / ypub /
//! zpub (SLIP-132 prefixes say the script kind), an output descriptor (its checksum must be
//! right), or a single address. Wallet engines (BDK) take these descriptors as they are.

pub mod backend;
pub mod consensus;
pub mod electrum;
mod electrum_anchors;
mod electrum_batch;
mod electrum_pool;
mod electrum_watch;
pub mod esplora;
mod failure;
pub mod node;
pub mod send;
pub mod sync;

use std::str::FromStr;

use bitcoin::{
    base58,
    bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub},
    Address, Network, NetworkKind,
};
pub use coldlink_signer::ScriptKind;
use miniscript::{Descriptor, DescriptorPublicKey};

/// Why a key, descriptor or address cannot make an account.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Not something we can read.
    #[error("“{0}” is not an extended public key, an output descriptor or an address")]
    Unreadable(String),
    /// A descriptor whose checksum does not match (a typo somewhere).
    #[error("the descriptor's checksum does not match: check it for a typo ({0})")]
    Checksum(String),
    /// For another network.
    #[error("this is for {found}, not for {expected}")]
    WrongNetwork {
        /// What it is for.
        found: String,
        /// What the account is on.
        expected: String,
    },
    /// A descriptor Coldlink does not hold accounts for.
    #[error("only single-key pkh, sh(wpkh), wpkh and tr descriptors with an extended key ending in /0/* (or /<0;1>/*) are supported")]
    Unsupported,
}

/// A Bitcoin account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtcAccount {
    /// Script kind.
    pub kind: ScriptKind,
    /// Network.
    pub network: Network,
    /// Receive addresses.
    pub external: Descriptor<DescriptorPublicKey>,
    /// Change addresses.
    pub internal: Descriptor<DescriptorPublicKey>,
}

/// What a user pasted to watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watched {
    /// An account (from a key or a descriptor).
    Account(Box<BtcAccount>),
    /// One address.
    Address(Address),
}

/// The BIP44/49/84/86 purpose of a kind.
pub fn purpose(kind: ScriptKind) -> u32 {
    match kind {
        ScriptKind::Legacy => 44,
        ScriptKind::NestedSegwit => 49,
        ScriptKind::NativeSegwit => 84,
        ScriptKind::Taproot => 86,
    }
}

/// The standard path of account `index` of `kind` on `network` (coin type 1 on test networks).
pub fn account_path(kind: ScriptKind, network: Network, index: u32) -> DerivationPath {
    let coin = u32::from(network != Network::Bitcoin);
    DerivationPath::from(vec![
        ChildNumber::Hardened {
            index: purpose(kind),
        },
        ChildNumber::Hardened { index: coin },
        ChildNumber::Hardened { index },
    ])
}

fn wrap(kind: ScriptKind, key: &str) -> String {
    match kind {
        ScriptKind::Legacy => format!("pkh({key})"),
        ScriptKind::NestedSegwit => format!("sh(wpkh({key}))"),
        ScriptKind::NativeSegwit => format!("wpkh({key})"),
        ScriptKind::Taproot => format!("tr({key})"),
    }
}

fn parse_desc(text: &str) -> Result<Descriptor<DescriptorPublicKey>, AccountError> {
    Descriptor::<DescriptorPublicKey>::from_str(text).map_err(|e| {
        let m = e.to_string();
        if m.to_lowercase().contains("checksum") {
            AccountError::Checksum(m)
        } else {
            AccountError::Unreadable(text.to_owned())
        }
    })
}

impl BtcAccount {
    /// The account a signer's `xpub` at `path` (with master `fingerprint`) makes.
    pub fn from_xpub(
        kind: ScriptKind,
        network: Network,
        fingerprint: Fingerprint,
        path: &DerivationPath,
        xpub: &Xpub,
    ) -> Result<Self, AccountError> {
        let origin = path.to_string();
        let origin = origin.trim_start_matches("m/");
        // Signers answer with their own prefix (a software key always says xpub); wallets and
        // BDK expect the account's network's (tpub on test networks).
        let mut xpub = *xpub;
        xpub.network = NetworkKind::from(network);
        let key = |chain: u32| format!("[{fingerprint}/{origin}]{xpub}/{chain}/*");
        Ok(Self {
            kind,
            network,
            external: parse_desc(&wrap(kind, &key(0)))?,
            internal: parse_desc(&wrap(kind, &key(1)))?,
        })
    }

    /// The receive (`change = false`) or change address at `index`.
    pub fn address(&self, change: bool, index: u32) -> Result<Address, AccountError> {
        let d = if change {
            &self.internal
        } else {
            &self.external
        };
        d.at_derivation_index(index)
            .map_err(|_| AccountError::Unsupported)?
            .address(self.network)
            .map_err(|_| AccountError::Unsupported)
    }

    /// The master fingerprint in the descriptors' key origin, if any.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        let mut fp = None;
        self.external.for_each_key(|k| {
            fp = Some(k.master_fingerprint());
            true
        });
        fp
    }
}

use miniscript::ForEachKey;

/// SLIP-132 versions: (version, network kind, script kind if implied).
fn slip132(version: [u8; 4]) -> Option<(NetworkKind, Option<ScriptKind>)> {
    Some(match version {
        [0x04, 0x88, 0xb2, 0x1e] => (NetworkKind::Main, None),
        [0x04, 0x9d, 0x7c, 0xb2] => (NetworkKind::Main, Some(ScriptKind::NestedSegwit)),
        [0x04, 0xb2, 0x47, 0x46] => (NetworkKind::Main, Some(ScriptKind::NativeSegwit)),
        [0x04, 0x35, 0x87, 0xcf] => (NetworkKind::Test, None),
        [0x04, 0x4a, 0x52, 0x62] => (NetworkKind::Test, Some(ScriptKind::NestedSegwit)),
        [0x04, 0x5f, 0x1c, 0xf6] => (NetworkKind::Test, Some(ScriptKind::NativeSegwit)),
        _ => return None,
    })
}

fn network_name(kind: NetworkKind) -> &'static str {
    match kind {
        NetworkKind::Main => "mainnet",
        NetworkKind::Test => "test networks",
    }
}

/// Reads what a user pasted to watch on `network`. A plain xpub/tpub does not say its script
/// kind: `hint` does (native segwit when none).
pub fn parse_watch(
    text: &str,
    network: Network,
    hint: Option<ScriptKind>,
) -> Result<Watched, AccountError> {
    let t = text.trim();
    let want = NetworkKind::from(network);
    let wrong = |found: NetworkKind| AccountError::WrongNetwork {
        found: network_name(found).into(),
        expected: network.to_string(),
    };
    // An extended key, maybe with a SLIP-132 prefix.
    if let Ok(raw) = base58::decode_check(t) {
        if raw.len() == 78 {
            let version: [u8; 4] = [raw[0], raw[1], raw[2], raw[3]];
            let (net, implied) =
                slip132(version).ok_or_else(|| AccountError::Unreadable(t.into()))?;
            if net != want {
                return Err(wrong(net));
            }
            let mut plain = raw.clone();
            plain[..4].copy_from_slice(if net == NetworkKind::Main {
                &[0x04, 0x88, 0xb2, 0x1e]
            } else {
                &[0x04, 0x35, 0x87, 0xcf]
            });
            let xpub = Xpub::decode(&plain).map_err(|_| AccountError::Unreadable(t.into()))?;
            let kind = implied.or(hint).unwrap_or(ScriptKind::NativeSegwit);
            let key = |chain: u32| format!("{xpub}/{chain}/*");
            return Ok(Watched::Account(Box::new(BtcAccount {
                kind,
                network,
                external: parse_desc(&wrap(kind, &key(0)))?,
                internal: parse_desc(&wrap(kind, &key(1)))?,
            })));
        }
    }
    // An address.
    if let Ok(a) = Address::from_str(t) {
        return a
            .require_network(network)
            .map(Watched::Address)
            .map_err(|_| AccountError::WrongNetwork {
                found: "another network".into(),
                expected: network.to_string(),
            });
    }
    // An output descriptor.
    if t.contains('(') {
        return account_from_descriptor(t, network).map(|a| Watched::Account(Box::new(a)));
    }
    Err(AccountError::Unreadable(t.into()))
}

fn account_from_descriptor(text: &str, network: Network) -> Result<BtcAccount, AccountError> {
    let d = parse_desc(text)?;
    let kind = match &d {
        Descriptor::Pkh(_) => ScriptKind::Legacy,
        Descriptor::Sh(_) => ScriptKind::NestedSegwit,
        Descriptor::Wpkh(_) => ScriptKind::NativeSegwit,
        Descriptor::Tr(t) if t.tap_tree().is_none() => ScriptKind::Taproot,
        _ => return Err(AccountError::Unsupported),
    };
    if kind == ScriptKind::NestedSegwit && !text.trim_start().starts_with("sh(wpkh(") {
        return Err(AccountError::Unsupported);
    }
    let mut key_network = None;
    d.for_each_key(|k| {
        if let DescriptorPublicKey::XPub(x) = k {
            key_network = Some(x.xkey.network);
        } else if let DescriptorPublicKey::MultiXPub(x) = k {
            key_network = Some(x.xkey.network);
        }
        true
    });
    let net = key_network.ok_or(AccountError::Unsupported)?;
    if net != NetworkKind::from(network) {
        return Err(AccountError::WrongNetwork {
            found: network_name(net).into(),
            expected: network.to_string(),
        });
    }
    let (external, internal) = if d.is_multipath() {
        let mut singles = d
            .into_single_descriptors()
            .map_err(|_| AccountError::Unsupported)?
            .into_iter();
        match (singles.next(), singles.next(), singles.next()) {
            (Some(a), Some(b), None) => (a, b),
            _ => return Err(AccountError::Unsupported),
        }
    } else {
        let s = d.to_string();
        let body = s.split('#').next().unwrap_or(&s).to_owned();
        if !body.contains("/0/*") {
            return Err(AccountError::Unsupported);
        }
        let change = parse_desc(&body.replace("/0/*", "/1/*"))?;
        (d, change)
    };
    Ok(BtcAccount {
        kind,
        network,
        external,
        internal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // BIP84's, BIP49's and BIP86's published vectors for "abandon … about" (and BIP44 by the
    // same seed): account 0 keys and first addresses.
    const ZPUB: &str = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
    const BIP86_XPUB: &str = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ";

    fn account(w: Watched) -> BtcAccount {
        match w {
            Watched::Account(a) => *a,
            Watched::Address(_) => unreachable_account(),
        }
    }

    #[allow(clippy::panic)]
    fn unreachable_account() -> BtcAccount {
        panic!("expected an account")
    }

    #[test]
    fn slip132_keys_give_the_bips_addresses() {
        let a = account(parse_watch(ZPUB, Network::Bitcoin, None).expect("zpub"));
        assert_eq!(a.kind, ScriptKind::NativeSegwit);
        assert_eq!(
            a.address(false, 0).expect("a").to_string(),
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
        assert_eq!(
            a.address(false, 1).expect("a").to_string(),
            "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
        );
        assert_eq!(
            a.address(true, 0).expect("a").to_string(),
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
        );
        // A plain xpub says nothing of its script kind: the hint decides (BIP86 here).
        let t = account(
            parse_watch(BIP86_XPUB, Network::Bitcoin, Some(ScriptKind::Taproot)).expect("xpub"),
        );
        assert_eq!(
            t.address(false, 0).expect("a").to_string(),
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
        );
        assert_eq!(
            t.address(true, 0).expect("a").to_string(),
            "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7"
        );
    }

    #[test]
    fn descriptors_need_a_right_checksum_and_a_supported_shape() {
        let base = format!("wpkh([73c5da0a/84'/0'/0']{}/0/*)", "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V");
        let d = Descriptor::<DescriptorPublicKey>::from_str(&base)
            .expect("d")
            .to_string();
        let a = account(parse_watch(&d, Network::Bitcoin, None).expect("with checksum"));
        assert_eq!(
            a.address(false, 0).expect("a").to_string(),
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
        assert_eq!(
            a.fingerprint().map(|f| f.to_string()).as_deref(),
            Some("73c5da0a")
        );
        let (body, sum) = d.split_once('#').expect("checksum");
        let mut bad = sum.to_owned();
        bad.replace_range(0..1, if sum.starts_with('q') { "p" } else { "q" });
        assert!(matches!(
            parse_watch(&format!("{body}#{bad}"), Network::Bitcoin, None),
            Err(AccountError::Checksum(_))
        ));
        // Multipath: one descriptor for both chains.
        let multi = base.replace("/0/*", "/<0;1>/*");
        let m = account(parse_watch(&multi, Network::Bitcoin, None).expect("multipath"));
        assert_eq!(
            m.address(true, 0).expect("a").to_string(),
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
        );
        // Not single-key.
        assert!(parse_watch(
            "wsh(multi(1,02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9))",
            Network::Bitcoin,
            None
        )
        .is_err());
    }

    #[test]
    fn addresses_and_networks_are_checked() {
        assert!(matches!(
            parse_watch(
                "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
                Network::Bitcoin,
                None
            ),
            Ok(Watched::Address(_))
        ));
        assert!(matches!(
            parse_watch(
                "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
                Network::Regtest,
                None
            ),
            Err(AccountError::WrongNetwork { .. })
        ));
        assert!(matches!(
            parse_watch(ZPUB, Network::Testnet, None),
            Err(AccountError::WrongNetwork { .. })
        ));
        assert!(matches!(
            parse_watch("hello", Network::Bitcoin, None),
            Err(AccountError::Unreadable(_))
        ));
        assert_eq!(
            account_path(ScriptKind::Taproot, Network::Regtest, 2).to_string(),
            "86'/1'/2'"
        );
    }
}
