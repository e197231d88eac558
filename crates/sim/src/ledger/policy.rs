//! Wallet policies as the simulated Bitcoin app accepts them: the default single-signature
//! wallets (`pkh`, `sh(wpkh)`, `wpkh`, `tr` over one key of this seed at its standard path),
//! which need no registration. Registered (multisig) policies are refused for now.

use std::str::FromStr;

use bitcoin::{
    bip32::{ChildNumber, DerivationPath, Xpriv, Xpub},
    secp256k1::{All, Secp256k1},
    Address, CompressedPublicKey, Network, ScriptBuf,
};

use super::interrupt::{Host, Reader, R};

const WRONG_DATA: u16 = 0x6A80;
/// "Not supported" (a registered wallet, or a policy this app does not know).
pub(super) const NOT_SUPPORTED: u16 = 0x6A82;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Pkh,
    ShWpkh,
    Wpkh,
    Tr,
}

impl Kind {
    fn from_template(t: &str) -> Option<(Self, u32)> {
        Some(match t {
            "pkh(@0/**)" => (Kind::Pkh, 44),
            "sh(wpkh(@0/**))" => (Kind::ShWpkh, 49),
            "wpkh(@0/**)" => (Kind::Wpkh, 84),
            "tr(@0/**)" => (Kind::Tr, 86),
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Pkh => "Legacy",
            Kind::ShWpkh => "Nested SegWit",
            Kind::Wpkh => "Native SegWit",
            Kind::Tr => "Taproot",
        }
    }
}

/// A default wallet the device has checked is its own.
pub(super) struct Policy {
    pub(super) kind: Kind,
    pub(super) account_path: DerivationPath,
    pub(super) account: Xpub,
    pub(super) network: Network,
}

/// Parses "[fingerprint/path]xpub".
fn parse_key_info(s: &str) -> Option<(String, DerivationPath, Xpub)> {
    let rest = s.strip_prefix('[')?;
    let (origin, xpub) = rest.split_once(']')?;
    let (fp, path) = origin.split_once('/')?;
    let path = DerivationPath::from_str(&format!("m/{path}")).ok()?;
    Some((fp.to_lowercase(), path, Xpub::from_str(xpub).ok()?))
}

/// Fetches and checks the policy `wallet_id` names.
pub(super) fn load(
    host: &Host,
    secp: &Secp256k1<All>,
    master: &Xpriv,
    wallet_id: &[u8; 32],
    hmac: &[u8; 32],
    testnet: bool,
) -> R<Policy> {
    if hmac != &[0u8; 32] {
        return Err(NOT_SUPPORTED);
    }
    let bytes = host.preimage(wallet_id)?;
    let mut r = Reader(&bytes);
    if r.u8()? != 0x02 {
        return Err(NOT_SUPPORTED);
    }
    let name_len = usize::from(r.u8()?);
    let name = r.bytes(name_len)?.to_vec();
    let template_len = r.varint()?;
    let template_hash = r.hash()?;
    let n_keys = r.varint()?;
    let keys_root = r.hash()?;
    if !name.is_empty() || n_keys != 1 {
        return Err(NOT_SUPPORTED);
    }
    let template = host.preimage(&template_hash)?;
    if template.len() != template_len {
        return Err(WRONG_DATA);
    }
    let template = String::from_utf8(template).map_err(|_| WRONG_DATA)?;
    let (kind, purpose) = Kind::from_template(&template).ok_or(NOT_SUPPORTED)?;
    let key = host.leaf(&keys_root, 1, 0)?;
    let key = String::from_utf8(key).map_err(|_| WRONG_DATA)?;
    let (fp, path, xpub) = parse_key_info(&key).ok_or(WRONG_DATA)?;
    if fp != master.fingerprint(secp).to_string() {
        return Err(NOT_SUPPORTED);
    }
    // The standard path: purpose'/coin'/account', coin 0 in the Bitcoin app, 1 in Bitcoin Test.
    let coin = u32::from(testnet);
    let p: Vec<ChildNumber> = path.clone().into();
    let ok_path = matches!(
        p.as_slice(),
        [ChildNumber::Hardened { index: pu }, ChildNumber::Hardened { index: c }, ChildNumber::Hardened { index: acct }]
            if *pu == purpose && *c == coin && *acct < 100
    );
    if !ok_path {
        return Err(NOT_SUPPORTED);
    }
    let ours = Xpub::from_priv(
        secp,
        &master.derive_priv(secp, &path).map_err(|_| WRONG_DATA)?,
    );
    // The same key whichever network's version bytes it was written with.
    if (ours.public_key, ours.chain_code) != (xpub.public_key, xpub.chain_code) {
        return Err(NOT_SUPPORTED);
    }
    Ok(Policy {
        kind,
        account_path: path,
        account: ours,
        network: if testnet {
            Network::Testnet
        } else {
            Network::Bitcoin
        },
    })
}

impl Policy {
    /// The public key at `change`/`index` under the account.
    pub(super) fn pubkey(
        &self,
        secp: &Secp256k1<All>,
        change: u32,
        index: u32,
    ) -> R<CompressedPublicKey> {
        let child = self
            .account
            .derive_pub(
                secp,
                &[
                    ChildNumber::from_normal_idx(change).map_err(|_| WRONG_DATA)?,
                    ChildNumber::from_normal_idx(index).map_err(|_| WRONG_DATA)?,
                ],
            )
            .map_err(|_| WRONG_DATA)?;
        Ok(CompressedPublicKey(child.public_key))
    }

    pub(super) fn address(&self, secp: &Secp256k1<All>, change: u32, index: u32) -> R<Address> {
        let pk = self.pubkey(secp, change, index)?;
        Ok(match self.kind {
            Kind::Pkh => Address::p2pkh(pk, self.network),
            Kind::ShWpkh => Address::p2shwpkh(&pk, self.network),
            Kind::Wpkh => Address::p2wpkh(&pk, self.network),
            Kind::Tr => Address::p2tr(secp, pk.0.x_only_public_key().0, None, self.network),
        })
    }

    pub(super) fn script(&self, secp: &Secp256k1<All>, change: u32, index: u32) -> R<ScriptBuf> {
        Ok(self.address(secp, change, index)?.script_pubkey())
    }

    /// If `path` is under this account as .../change/index, those two numbers.
    pub(super) fn locate(&self, path: &[ChildNumber]) -> Option<(u32, u32)> {
        let base: Vec<ChildNumber> = self.account_path.clone().into();
        match path.strip_prefix(base.as_slice())? {
            [ChildNumber::Normal { index: c }, ChildNumber::Normal { index: i }] if *c <= 1 => {
                Some((*c, *i))
            }
            _ => None,
        }
    }
}
