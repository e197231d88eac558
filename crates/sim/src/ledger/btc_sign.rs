//! The simulated Bitcoin app's wallet-policy commands: GET_WALLET_ADDRESS and SIGN_PSBT, each
//! a program that reads what it needs from the host through interrupted execution.
//!
//! SIGN_PSBT reads the PSBT (version 2 fields, merkleized), finds the inputs this seed owns
//! under the wallet policy, shows every external output and the fee, and after approval signs
//! (ECDSA for segwit v0 and legacy, BIP340 Schnorr with the BIP86 tweak for taproot) and yields
//! each signature as `<input index><key length><key><signature>`.

use bitcoin::{
    absolute::LockTime,
    bip32::{ChildNumber, Xpriv},
    consensus::deserialize,
    hashes::Hash,
    key::{Keypair, TapTweak},
    secp256k1::{Message, Secp256k1},
    sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType},
    transaction::Version,
    Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use coldlink_types::Amount as Exact;

use super::{
    interrupt::{write_varint, Host, MapCommitment, Reader, R},
    ok,
    policy::{self, Kind, Policy},
    Outcome,
};
use crate::{Control, Decision, Screen};

const WRONG_DATA: u16 = 0x6A80;

fn btc(a: Amount) -> String {
    format!("{} BTC", Exact::sats(a.to_sat()))
}

fn decided(control: &Control, screen: Screen, then: impl FnOnce() -> R<Vec<u8>>) -> R<Outcome> {
    Ok(match control.confirm(screen) {
        Decision::Approve => ok(then()?),
        Decision::Reject => super::status(coldlink_ledger::sw::DENIED),
        Decision::Silent => Outcome::Silent,
        Decision::Disconnect => Outcome::Disconnect,
    })
}

/// GET_WALLET_ADDRESS: display(1) wallet_id(32) hmac(32) change(1) index(4, big-endian).
pub(super) fn wallet_address(
    host: &Host,
    master: &Xpriv,
    control: &Control,
    data: &[u8],
    testnet: bool,
) -> R<Outcome> {
    let secp = Secp256k1::new();
    let mut r = Reader(data);
    let display = r.u8()? == 1;
    let id = r.hash()?;
    let hmac = r.hash()?;
    let change = u32::from(r.u8()?);
    let index = u32::from_be_bytes(r.bytes(4)?.try_into().map_err(|_| WRONG_DATA)?);
    if change > 1 || index >= 0x8000_0000 {
        return Err(WRONG_DATA);
    }
    let policy = policy::load(host, &secp, master, &id, &hmac, testnet)?;
    let address = policy.address(&secp, change, index)?.to_string();
    if !display {
        return Ok(ok(address.into_bytes()));
    }
    let screen = Screen {
        title: "Verify address".into(),
        fields: vec![
            (
                "Account".into(),
                format!("{} account {}", policy.kind.name(), account_number(&policy)),
            ),
            ("Address".into(), address.clone()),
        ],
    };
    decided(control, screen, || Ok(address.into_bytes()))
}

fn account_number(p: &Policy) -> u32 {
    match p.account_path.as_ref().last() {
        Some(ChildNumber::Hardened { index }) => index + 1,
        _ => 0,
    }
}

fn get<'a>(map: &'a [(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<&'a [u8]> {
    map.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

fn u32_le(b: Option<&[u8]>) -> R<Option<u32>> {
    b.map(|b| b.try_into().map(u32::from_le_bytes).map_err(|_| WRONG_DATA))
        .transpose()
}

/// A BIP32 derivation value: fingerprint then little-endian indexes.
fn origin(v: &[u8]) -> Option<([u8; 4], Vec<ChildNumber>)> {
    if v.len() < 4 || !v.len().is_multiple_of(4) {
        return None;
    }
    let fp = v[..4].try_into().ok()?;
    let path = v[4..]
        .chunks_exact(4)
        .map(|c| ChildNumber::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    Some((fp, path))
}

/// Finds `(change, index)` of this wallet's key in a map's BIP32 derivations
/// (`key_type` 0x06/0x02 for ECDSA keys, 0x16/0x07 for taproot x-only keys).
fn our_key(
    map: &[(Vec<u8>, Vec<u8>)],
    policy: &Policy,
    fingerprint: [u8; 4],
    ecdsa_type: u8,
    tap_type: u8,
) -> Option<(u32, u32)> {
    map.iter().find_map(|(k, v)| {
        let value = match k.first() {
            Some(t) if *t == ecdsa_type && k.len() == 34 => v.as_slice(),
            Some(t) if *t == tap_type && k.len() == 33 => {
                // Leaf hashes first, then the origin.
                let (n, used) = super::interrupt::read_varint(v).ok()?;
                v.get(used + 32 * usize::try_from(n).ok()?..)?
            }
            _ => return None,
        };
        let (fp, path) = origin(value)?;
        (fp == fingerprint).then(|| policy.locate(&path)).flatten()
    })
}

struct Input {
    prevout: OutPoint,
    sequence: Sequence,
    utxo: TxOut,
    ours: Option<(u32, u32)>,
}

/// SIGN_PSBT: global map commitment, input count + root, output count + root, wallet id, hmac.
pub(super) fn sign_psbt(
    host: &Host,
    master: &Xpriv,
    control: &Control,
    data: &[u8],
    testnet: bool,
) -> R<Outcome> {
    let secp = Secp256k1::new();
    let mut r = Reader(data);
    let global = MapCommitment::read(&mut r)?;
    let n_in = r.varint()?;
    let inputs_root = r.hash()?;
    let n_out = r.varint()?;
    let outputs_root = r.hash()?;
    let id = r.hash()?;
    let hmac = r.hash()?;
    let policy = policy::load(host, &secp, master, &id, &hmac, testnet)?;
    let fp = master.fingerprint(&secp).to_bytes();

    let g = host.read_map(&global)?;
    let version = get(&g, &[0x02]).ok_or(WRONG_DATA)?;
    let version = i32::from_le_bytes(version.try_into().map_err(|_| WRONG_DATA)?);
    let lock_time = u32_le(get(&g, &[0x03]))?.unwrap_or(0);
    let count = |k: u8| -> R<usize> {
        let b = get(&g, &[k]).ok_or(WRONG_DATA)?;
        Reader(b).varint()
    };
    if count(0x04)? != n_in || count(0x05)? != n_out || n_in == 0 || n_out == 0 {
        return Err(WRONG_DATA);
    }

    let mut inputs = Vec::with_capacity(n_in);
    for i in 0..n_in {
        let c = host.leaf(&inputs_root, n_in, i)?;
        let m = host.read_map(&MapCommitment::read(&mut Reader(&c))?)?;
        let txid: Txid =
            deserialize(get(&m, &[0x0e]).ok_or(WRONG_DATA)?).map_err(|_| WRONG_DATA)?;
        let vout = u32_le(get(&m, &[0x0f]))?.ok_or(WRONG_DATA)?;
        let sequence = Sequence(u32_le(get(&m, &[0x10]))?.unwrap_or(u32::MAX));
        let utxo = match (get(&m, &[0x01]), get(&m, &[0x00])) {
            (Some(w), _) => deserialize::<TxOut>(w).map_err(|_| WRONG_DATA)?,
            (None, Some(full)) => {
                let prev: Transaction = deserialize(full).map_err(|_| WRONG_DATA)?;
                if prev.compute_txid() != txid {
                    return Err(WRONG_DATA);
                }
                prev.output.get(vout as usize).cloned().ok_or(WRONG_DATA)?
            }
            (None, None) => return Err(WRONG_DATA),
        };
        if let Some(t) = u32_le(get(&m, &[0x03]))? {
            let allowed = if policy.kind == Kind::Tr {
                [0, 1]
            } else {
                [1, 1]
            };
            if !allowed.contains(&t) {
                return Err(policy::NOT_SUPPORTED);
            }
        }
        let mut ours = our_key(&m, &policy, fp, 0x06, 0x16);
        // A key is ours only if the coin it spends is this wallet's script for that key.
        if let Some((c, idx)) = ours {
            if policy.script(&secp, c, idx)? != utxo.script_pubkey {
                ours = None;
            }
        }
        inputs.push(Input {
            prevout: OutPoint { txid, vout },
            sequence,
            utxo,
            ours,
        });
    }

    let mut outputs = Vec::with_capacity(n_out);
    let mut external = Vec::new();
    for j in 0..n_out {
        let c = host.leaf(&outputs_root, n_out, j)?;
        let m = host.read_map(&MapCommitment::read(&mut Reader(&c))?)?;
        let amount = get(&m, &[0x03]).ok_or(WRONG_DATA)?;
        let value = Amount::from_sat(u64::from_le_bytes(
            amount.try_into().map_err(|_| WRONG_DATA)?,
        ));
        let script = ScriptBuf::from_bytes(get(&m, &[0x04]).ok_or(WRONG_DATA)?.to_vec());
        let change = match our_key(&m, &policy, fp, 0x02, 0x07) {
            Some((1, idx)) => policy.script(&secp, 1, idx)? == script,
            _ => false,
        };
        if !change {
            external.push(j);
        }
        outputs.push(TxOut {
            value,
            script_pubkey: script,
        });
    }

    let total_in = inputs
        .iter()
        .try_fold(Amount::ZERO, |a, i| a.checked_add(i.utxo.value))
        .ok_or(WRONG_DATA)?;
    let total_out = outputs
        .iter()
        .try_fold(Amount::ZERO, |a, o| a.checked_add(o.value))
        .ok_or(WRONG_DATA)?;
    let fee = total_in.checked_sub(total_out).ok_or(WRONG_DATA)?;
    if inputs.iter().all(|i| i.ours.is_none()) {
        return Err(WRONG_DATA);
    }

    // What the user reviews: every output that leaves the wallet, then the fee.
    for (k, &j) in external.iter().enumerate() {
        let o = &outputs[j];
        let to = bitcoin::Address::from_script(&o.script_pubkey, policy.network)
            .map(|a| a.to_string())
            .unwrap_or_else(|_| format!("script {}", o.script_pubkey.to_hex_string()));
        control.show(Screen {
            title: "Review output".into(),
            fields: vec![
                ("Output".into(), format!("#{} of {}", k + 1, external.len())),
                ("Address".into(), to),
                ("Amount".into(), btc(o.value)),
            ],
        });
    }
    let screen = Screen {
        title: "Sign transaction".into(),
        fields: vec![("Fees".into(), btc(fee))],
    };
    let tx = Transaction {
        version: Version(version),
        lock_time: LockTime::from_consensus(lock_time),
        input: inputs
            .iter()
            .map(|i| TxIn {
                previous_output: i.prevout,
                script_sig: ScriptBuf::new(),
                sequence: i.sequence,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };
    match control.confirm(screen) {
        Decision::Approve => {}
        Decision::Reject => return Ok(super::status(coldlink_ledger::sw::DENIED)),
        Decision::Silent => return Ok(Outcome::Silent),
        Decision::Disconnect => return Ok(Outcome::Disconnect),
    }
    let prevouts: Vec<TxOut> = inputs.iter().map(|i| i.utxo.clone()).collect();
    let mut cache = SighashCache::new(&tx);
    for (i, input) in inputs.iter().enumerate() {
        let Some((c, idx)) = input.ours else { continue };
        let path = policy
            .account_path
            .child(ChildNumber::Normal { index: c })
            .child(ChildNumber::Normal { index: idx });
        let key = master
            .derive_priv(&secp, &path)
            .map_err(|_| WRONG_DATA)?
            .private_key;
        let pk = policy.pubkey(&secp, c, idx)?;
        let mut out = Vec::new();
        write_varint(&mut out, i as u64);
        match policy.kind {
            Kind::Tr => {
                let h = cache
                    .taproot_key_spend_signature_hash(
                        i,
                        &Prevouts::All(&prevouts),
                        TapSighashType::Default,
                    )
                    .map_err(|_| WRONG_DATA)?;
                let kp = Keypair::from_secret_key(&secp, &key).tap_tweak(&secp, None);
                let sig = secp.sign_schnorr_no_aux_rand(
                    &Message::from_digest(h.to_byte_array()),
                    &kp.to_keypair(),
                );
                out.push(32);
                out.extend_from_slice(&pk.0.x_only_public_key().0.serialize());
                out.extend_from_slice(sig.as_ref());
            }
            kind => {
                let h = if kind == Kind::Pkh {
                    cache
                        .legacy_signature_hash(i, &input.utxo.script_pubkey, 1)
                        .map_err(|_| WRONG_DATA)?
                        .to_byte_array()
                } else {
                    let program = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
                    cache
                        .p2wpkh_signature_hash(i, &program, input.utxo.value, EcdsaSighashType::All)
                        .map_err(|_| WRONG_DATA)?
                        .to_byte_array()
                };
                let sig = secp.sign_ecdsa(&Message::from_digest(h), &key);
                out.push(33);
                out.extend_from_slice(&pk.to_bytes());
                out.extend_from_slice(&sig.serialize_der());
                out.push(0x01);
            }
        }
        host.yield_data(&out)?;
    }
    Ok(ok(vec![]))
}

/// Runs a program body, turning a status-word error into the answer the device gives.
pub(super) fn run(body: impl FnOnce() -> R<Outcome>) -> Outcome {
    body().unwrap_or_else(super::status)
}
