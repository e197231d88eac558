//! Signing a PSBT on a Trezor-family device: the PSBT becomes a SignTx whose inputs, outputs
//! and previous transactions are streamed as the device asks for them; the signatures it
//! returns are checked against the host's own sighash and merged back into the PSBT.
//!
//! Outputs that pay back to this device's key at a path the PSBT records are sent as change
//! (by path and script type), so the device does not ask the user about them; everything else
//! is sent as an address and confirmed on the device.

use std::collections::BTreeMap;

use bitcoin::{
    bip32::{DerivationPath, Fingerprint as BipFingerprint},
    ecdsa,
    hashes::Hash,
    key::TapTweak,
    secp256k1::{self, Message, Secp256k1, Verification},
    sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType},
    taproot, Address, CompressedPublicKey, Psbt, PublicKey, ScriptBuf, Transaction, TxOut, Txid,
};
use coldlink_signer::{Interaction, Prompt, SignerError};
use prost::Message as _;

use crate::{
    device::{address_n, coin_name, Trezor},
    messages::{self as m, InputScriptType as In, OutputScriptType as OutType, RequestType, Wire},
    session::decode,
};

/// One of our inputs as the device needs it.
struct OurInput {
    msg: m::TxInputType,
    kind: In,
    /// The key that signs it (for ECDSA: the partial-signature key; taproot: internal key).
    key: PublicKey,
}

fn bad(msg: impl Into<String>) -> SignerError {
    SignerError::InvalidRequest(msg.into())
}

/// The script type of a single-sig output script we can sign for.
fn kind_of(spk: &ScriptBuf, redeem: Option<&ScriptBuf>) -> Option<In> {
    if spk.is_p2wpkh() {
        Some(In::SpendWitness)
    } else if spk.is_p2tr() {
        Some(In::SpendTaproot)
    } else if spk.is_p2pkh() {
        Some(In::SpendAddress)
    } else if spk.is_p2sh() && redeem.is_some_and(|r| r.is_p2wpkh()) {
        Some(In::SpendP2shWitness)
    } else {
        None
    }
}

fn display_hash(txid: &Txid) -> Vec<u8> {
    let mut b = txid.to_byte_array();
    b.reverse();
    b.to_vec()
}

/// Our key and path for a PSBT input or output, from its BIP32 / taproot origins.
fn origin<'a>(
    fp: BipFingerprint,
    bip32: &'a BTreeMap<secp256k1::PublicKey, (BipFingerprint, DerivationPath)>,
    tap: &'a BTreeMap<
        bitcoin::XOnlyPublicKey,
        (Vec<taproot::TapLeafHash>, (BipFingerprint, DerivationPath)),
    >,
) -> Option<(PublicKey, &'a DerivationPath, bool)> {
    if let Some((k, (_, (_, p)))) = tap
        .iter()
        .find(|(_, (leaves, (f, _)))| *f == fp && leaves.is_empty())
    {
        // Taproot origins carry x-only keys; the even-Y full key stands for it.
        let full = secp256k1::PublicKey::from_x_only_public_key(*k, secp256k1::Parity::Even);
        return Some((PublicKey::new(full), p, true));
    }
    bip32
        .iter()
        .find(|(_, (f, _))| *f == fp)
        .map(|(k, (_, p))| (PublicKey::new(*k), p, false))
}

fn spent_output(psbt: &Psbt, i: usize) -> Result<TxOut, SignerError> {
    let input = &psbt.inputs[i];
    let outpoint = psbt.unsigned_tx.input[i].previous_output;
    if let Some(prev) = &input.non_witness_utxo {
        if prev.compute_txid() != outpoint.txid {
            return Err(bad(format!(
                "input {i}: the previous transaction in the PSBT is not the one spent"
            )));
        }
        return prev
            .output
            .get(outpoint.vout as usize)
            .cloned()
            .ok_or_else(|| bad(format!("input {i}: spends an output that does not exist")));
    }
    input
        .witness_utxo
        .clone()
        .ok_or_else(|| bad(format!("input {i}: the PSBT does not say what it spends")))
}

impl Trezor {
    /// Signs every input of `psbt` this device holds keys for, after the user confirms on the
    /// device; returns how many were signed. Inputs of other signers are refused (a Trezor
    /// signs only transactions whose inputs are all its own).
    pub fn sign_psbt(
        &mut self,
        psbt: &mut Psbt,
        ui: &dyn Interaction,
    ) -> Result<usize, SignerError> {
        let fp = BipFingerprint::from(self.fingerprint()?.0);
        let secp = Secp256k1::verification_only();
        let tx = psbt.unsigned_tx.clone();
        let mut prevouts = Vec::new();
        let mut inputs = Vec::new();
        let mut prev_txs: BTreeMap<Vec<u8>, Transaction> = BTreeMap::new();
        for (i, input) in psbt.inputs.iter().enumerate() {
            let prevout = spent_output(psbt, i)?;
            let kind =
                kind_of(&prevout.script_pubkey, input.redeem_script.as_ref()).ok_or_else(|| {
                    bad(format!(
                        "input {i}: not a single-signature script this device can sign"
                    ))
                })?;
            let (key, path, _) = origin(fp, &input.bip32_derivation, &input.tap_key_origins)
                .ok_or(SignerError::Unsupported(
                    "sign a transaction with inputs from another wallet (a Trezor signs only its own inputs)",
                ))?;
            if kind != In::SpendTaproot {
                let prev = input.non_witness_utxo.clone().ok_or_else(|| {
                    bad(format!(
                        "input {i}: a Trezor needs the previous transaction (non_witness_utxo) to check the amount"
                    ))
                })?;
                prev_txs.insert(display_hash(&prev.compute_txid()), prev);
            }
            let txin = &tx.input[i];
            inputs.push(OurInput {
                msg: m::TxInputType {
                    address_n: address_n(path),
                    prev_hash: display_hash(&txin.previous_output.txid),
                    prev_index: txin.previous_output.vout,
                    script_sig: None,
                    sequence: Some(txin.sequence.0),
                    script_type: Some(kind as i32),
                    amount: Some(prevout.value.to_sat()),
                    witness: None,
                    script_pubkey: None,
                },
                kind,
                key,
            });
            prevouts.push(prevout);
        }
        if inputs.iter().any(|i| i.kind == In::SpendTaproot) {
            self.check_kind(coldlink_signer::ScriptKind::Taproot)?;
        }
        // A taproot-only transaction is signed without previous transactions.
        if inputs.iter().all(|i| i.kind == In::SpendTaproot) {
            prev_txs.clear();
        }
        let outputs = self.outputs(psbt, fp, &inputs)?;
        let prompt = review_prompt(&tx, &prevouts, &outputs);
        let sigs = self.stream(&tx, &inputs, &outputs, &prev_txs, &prompt, ui)?;
        merge(psbt, &secp, &prevouts, &inputs, sigs)
    }

    fn outputs(
        &self,
        psbt: &Psbt,
        fp: BipFingerprint,
        inputs: &[OurInput],
    ) -> Result<Vec<m::TxOutputType>, SignerError> {
        let common = inputs.first().map(|i| (i.kind, i.msg.address_n.get(..3)));
        let all_same = inputs
            .iter()
            .all(|i| Some((i.kind, i.msg.address_n.get(..3))) == common);
        let mut out = Vec::new();
        for (o, (txout, meta)) in psbt
            .unsigned_tx
            .output
            .iter()
            .zip(&psbt.outputs)
            .enumerate()
        {
            let amount = txout.value.to_sat();
            let spk = &txout.script_pubkey;
            if spk.is_op_return() {
                let data = spk
                    .instructions()
                    .nth(1)
                    .and_then(|i| i.ok())
                    .and_then(|i| i.push_bytes().map(|b| b.as_bytes().to_vec()));
                out.push(m::TxOutputType {
                    address: None,
                    address_n: vec![],
                    amount,
                    script_type: Some(OutType::PayToOpReturn as i32),
                    op_return_data: Some(data.unwrap_or_default()),
                });
                continue;
            }
            // Change: our key, at a path in the same account, with the inputs' script type,
            // and the script really is the one that key and type make.
            let change = origin(fp, &meta.bip32_derivation, &meta.tap_key_origins).and_then(
                |(key, path, _)| {
                    // The script type is whichever one makes this key's script (a PSBT
                    // need not carry the redeem script of a wrapped-segwit change output).
                    let kind = [
                        In::SpendWitness,
                        In::SpendTaproot,
                        In::SpendP2shWitness,
                        In::SpendAddress,
                    ]
                    .into_iter()
                    .find(|k| script_for(&key, *k).as_ref() == Some(spk))?;
                    let n = address_n(path);
                    (all_same && common == Some((kind, n.get(..3)))).then_some((kind, n))
                },
            );
            match change {
                Some((kind, n)) => out.push(m::TxOutputType {
                    address: None,
                    address_n: n,
                    amount,
                    script_type: Some(change_type(kind) as i32),
                    op_return_data: None,
                }),
                None => {
                    let addr = Address::from_script(spk, self.network).map_err(|_| {
                        bad(format!("output {o}: a script with no address cannot be confirmed on the device"))
                    })?;
                    out.push(m::TxOutputType {
                        address: Some(addr.to_string()),
                        address_n: vec![],
                        amount,
                        script_type: Some(OutType::PayToAddress as i32),
                        op_return_data: None,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Runs SignTx, answering each TxRequest; returns (input index, signature bytes).
    fn stream(
        &mut self,
        tx: &Transaction,
        inputs: &[OurInput],
        outputs: &[m::TxOutputType],
        prev_txs: &BTreeMap<Vec<u8>, Transaction>,
        prompt: &Prompt,
        ui: &dyn Interaction,
    ) -> Result<Vec<(usize, Vec<u8>)>, SignerError> {
        let count = |n: usize| u32::try_from(n).map_err(|_| bad("too many inputs or outputs"));
        let start = m::SignTx {
            outputs_count: count(outputs.len())?,
            inputs_count: count(inputs.len())?,
            coin_name: Some(coin_name(self.network).into()),
            version: Some(tx.version.0 as u32),
            lock_time: Some(tx.lock_time.to_consensus_u32()),
        };
        let mut sigs = Vec::new();
        let mut serialized = Vec::new();
        let mut answer = self.session.call_any(&start, prompt, ui)?;
        loop {
            let req: m::TxRequest = match decode(answer.0, &answer.1) {
                Ok(r) => r,
                Err(e) => {
                    self.session.abort();
                    return Err(e);
                }
            };
            if let Some(s) = &req.serialized {
                if let Some(piece) = &s.serialized_tx {
                    serialized.extend_from_slice(piece);
                }
                if let (Some(i), Some(sig)) = (s.signature_index, &s.signature) {
                    sigs.push((i as usize, sig.clone()));
                }
            }
            let ack = match answer_request(&req, inputs, outputs, prev_txs) {
                Ok(Some(ack)) => ack,
                Ok(None) => break,
                Err(e) => {
                    self.session.abort();
                    return Err(e);
                }
            };
            answer = self
                .session
                .call_raw(m::TxAck::TYPE, &ack.encode_to_vec(), prompt, ui)?;
        }
        // The serialised transaction must be the one we asked to sign.
        if !serialized.is_empty() {
            let mut signed: Transaction =
                bitcoin::consensus::deserialize(&serialized).map_err(|e| {
                    SignerError::BadResponse(format!("unreadable signed transaction: {e}"))
                })?;
            // Compare without what signing adds (scriptSigs of legacy and wrapped inputs).
            for i in &mut signed.input {
                i.script_sig = ScriptBuf::new();
                i.witness = bitcoin::Witness::new();
            }
            if signed != *tx {
                return Err(SignerError::BadResponse(
                    "the device signed a different transaction".into(),
                ));
            }
        }
        Ok(sigs)
    }
}

/// The TxAck for one TxRequest; `None` when the device is finished.
fn answer_request(
    req: &m::TxRequest,
    inputs: &[OurInput],
    outputs: &[m::TxOutputType],
    prev_txs: &BTreeMap<Vec<u8>, Transaction>,
) -> Result<Option<m::TxAck>, SignerError> {
    let kind = req
        .request_type
        .and_then(|t| RequestType::try_from(t).ok())
        .ok_or_else(|| SignerError::BadResponse("unknown request from the device".into()))?;
    let details = req.details.clone().unwrap_or_default();
    let index = details.request_index.unwrap_or(0) as usize;
    let mut piece = m::TransactionType::default();
    let missing = || {
        SignerError::BadResponse(format!(
            "the device asked for {kind:?} {index}, which does not exist"
        ))
    };
    match (kind, details.tx_hash.as_deref()) {
        (RequestType::TxFinished, _) => return Ok(None),
        (RequestType::TxInput, None) => piece
            .inputs
            .push(inputs.get(index).ok_or_else(missing)?.msg.clone()),
        (RequestType::TxOutput, None) => piece
            .outputs
            .push(outputs.get(index).ok_or_else(missing)?.clone()),
        (RequestType::TxMeta, Some(h)) => {
            let prev = prev_txs.get(h).ok_or_else(missing)?;
            piece.version = Some(prev.version.0 as u32);
            piece.lock_time = Some(prev.lock_time.to_consensus_u32());
            piece.inputs_cnt = Some(prev.input.len() as u32);
            piece.outputs_cnt = Some(prev.output.len() as u32);
            piece.extra_data_len = Some(0);
        }
        (RequestType::TxInput, Some(h)) => {
            let prev = prev_txs.get(h).ok_or_else(missing)?;
            let i = prev.input.get(index).ok_or_else(missing)?;
            piece.inputs.push(m::TxInputType {
                address_n: vec![],
                prev_hash: display_hash(&i.previous_output.txid),
                prev_index: i.previous_output.vout,
                script_sig: Some(i.script_sig.to_bytes()),
                sequence: Some(i.sequence.0),
                script_type: None,
                amount: None,
                witness: None,
                script_pubkey: None,
            });
        }
        (RequestType::TxOutput, Some(h)) => {
            let prev = prev_txs.get(h).ok_or_else(missing)?;
            let o = prev.output.get(index).ok_or_else(missing)?;
            piece.bin_outputs.push(m::TxOutputBinType {
                amount: o.value.to_sat(),
                script_pubkey: o.script_pubkey.to_bytes(),
            });
        }
        _ => {
            return Err(SignerError::BadResponse(format!(
                "the device asked for {kind:?}, which Bitcoin transactions do not have"
            )))
        }
    }
    Ok(Some(m::TxAck { tx: Some(piece) }))
}

fn change_type(kind: In) -> OutType {
    match kind {
        In::SpendP2shWitness => OutType::PayToP2shWitness,
        In::SpendWitness => OutType::PayToWitness,
        In::SpendTaproot => OutType::PayToTaproot,
        _ => OutType::PayToAddress,
    }
}

fn script_for(key: &PublicKey, kind: In) -> Option<ScriptBuf> {
    let c = CompressedPublicKey::try_from(*key).ok()?;
    Some(match kind {
        In::SpendWitness => ScriptBuf::new_p2wpkh(&c.wpubkey_hash()),
        In::SpendP2shWitness => {
            ScriptBuf::new_p2sh(&ScriptBuf::new_p2wpkh(&c.wpubkey_hash()).script_hash())
        }
        In::SpendAddress => ScriptBuf::new_p2pkh(&key.pubkey_hash()),
        In::SpendTaproot => {
            let secp = Secp256k1::verification_only();
            ScriptBuf::new_p2tr(&secp, key.inner.x_only_public_key().0, None)
        }
        _ => return None,
    })
}

fn review_prompt(tx: &Transaction, prevouts: &[TxOut], outputs: &[m::TxOutputType]) -> Prompt {
    let mut lines = Vec::new();
    for o in outputs.iter().filter(|o| o.address_n.is_empty()) {
        lines.push((
            "Send".to_owned(),
            format!(
                "{} BTC to {}",
                coldlink_types::Amount::sats(o.amount),
                o.address.clone().unwrap_or_else(|| "OP_RETURN".into())
            ),
        ));
    }
    let fee = prevouts
        .iter()
        .map(|p| p.value.to_sat())
        .sum::<u64>()
        .saturating_sub(tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>());
    lines.push((
        "Fee".into(),
        format!("{} BTC", coldlink_types::Amount::sats(fee)),
    ));
    Prompt::Transaction(lines)
}

/// Checks each signature against our own sighash and puts it into the PSBT.
fn merge<C: Verification>(
    psbt: &mut Psbt,
    secp: &Secp256k1<C>,
    prevouts: &[TxOut],
    inputs: &[OurInput],
    sigs: Vec<(usize, Vec<u8>)>,
) -> Result<usize, SignerError> {
    let tx = psbt.unsigned_tx.clone();
    let mut cache = SighashCache::new(&tx);
    let mut signed = vec![false; inputs.len()];
    let wrong =
        |i: usize| SignerError::BadResponse(format!("the signature for input {i} does not verify"));
    for (i, sig) in sigs {
        let input = inputs.get(i).ok_or_else(|| wrong(i))?;
        match input.kind {
            In::SpendTaproot => {
                let s = secp256k1::schnorr::Signature::from_slice(&sig).map_err(|_| wrong(i))?;
                let h = cache
                    .taproot_key_spend_signature_hash(
                        i,
                        &Prevouts::All(prevouts),
                        TapSighashType::Default,
                    )
                    .map_err(|_| wrong(i))?;
                let (output_key, _) = input.key.inner.x_only_public_key().0.tap_tweak(secp, None);
                secp.verify_schnorr(
                    &s,
                    &Message::from_digest(h.to_byte_array()),
                    &output_key.to_x_only_public_key(),
                )
                .map_err(|_| wrong(i))?;
                psbt.inputs[i].tap_key_sig = Some(taproot::Signature {
                    signature: s,
                    sighash_type: TapSighashType::Default,
                });
            }
            kind => {
                let s = secp256k1::ecdsa::Signature::from_der(&sig).map_err(|_| wrong(i))?;
                let digest = if kind == In::SpendAddress {
                    cache
                        .legacy_signature_hash(
                            i,
                            &prevouts[i].script_pubkey,
                            EcdsaSighashType::All.to_u32(),
                        )
                        .map_err(|_| wrong(i))?
                        .to_byte_array()
                } else {
                    let c = CompressedPublicKey::try_from(input.key).map_err(|_| wrong(i))?;
                    cache
                        .p2wpkh_signature_hash(
                            i,
                            &ScriptBuf::new_p2wpkh(&c.wpubkey_hash()),
                            prevouts[i].value,
                            EcdsaSighashType::All,
                        )
                        .map_err(|_| wrong(i))?
                        .to_byte_array()
                };
                secp.verify_ecdsa(&Message::from_digest(digest), &s, &input.key.inner)
                    .map_err(|_| wrong(i))?;
                psbt.inputs[i]
                    .partial_sigs
                    .insert(input.key, ecdsa::Signature::sighash_all(s));
            }
        }
        signed[i] = true;
    }
    if let Some(i) = signed.iter().position(|s| !s) {
        return Err(SignerError::BadResponse(format!(
            "the device returned no signature for input {i}"
        )));
    }
    Ok(inputs.len())
}
