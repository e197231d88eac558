//! The simulated Trezor's Bitcoin side: public keys (with SLIP-132 prefixes unless asked not
//! to), addresses, and SignTx in the firmware's order of requests — inputs, outputs with a
//! confirmation for each one that is not change, the total, previous transactions for every
//! input unless all are taproot, then serialisation and signing, each signature riding on the
//! next request and the last one on TXFINISHED.

use std::str::FromStr;

use bitcoin::{
    absolute::LockTime,
    base58,
    bip32::{ChildNumber, DerivationPath, Xpriv, Xpub},
    consensus::encode::serialize,
    ecdsa,
    hashes::Hash,
    key::{CompressedPublicKey, Keypair, TapTweak},
    script::PushBytesBuf,
    secp256k1::Message,
    sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType},
    transaction::Version,
    Address, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use coldlink_trezor::messages::{
    self as m, FailureType, InputScriptType as In, OutputScriptType as OutType, RequestType,
};

use super::{ask, confirm, derive, expect, failure, send, session_master, Ctx, Flow, Io, Out};
use crate::Screen;

fn network(coin: Option<&str>) -> Flow<Network> {
    match coin.unwrap_or("Bitcoin") {
        "Bitcoin" => Ok(Network::Bitcoin),
        "Testnet" => Ok(Network::Testnet),
        "Regtest" => Ok(Network::Regtest),
        _ => Err(failure(FailureType::DataError, "Invalid coin name")),
    }
}

fn script_type(v: Option<i32>) -> Flow<In> {
    In::try_from(v.unwrap_or(0)).map_err(|_| failure(FailureType::DataError, "Invalid script type"))
}

fn path_of(address_n: &[u32]) -> DerivationPath {
    address_n.iter().map(|i| ChildNumber::from(*i)).collect()
}

const H: u32 = 0x8000_0000;

/// Safety checks: the purpose must fit the script type and the coin type the network, the
/// account hardened and the rest not. Other paths are "forbidden", as on the device.
fn check_path(address_n: &[u32], kind: In, net: Network) -> Flow<()> {
    let purpose = match kind {
        In::SpendAddress => 44,
        In::SpendP2shWitness => 49,
        In::SpendWitness => 84,
        In::SpendTaproot => 86,
        _ => return Err(failure(FailureType::DataError, "Invalid script type")),
    };
    let coin = if net == Network::Bitcoin { 0 } else { 1 };
    let ok = address_n.len() == 5
        && address_n[0] == H | purpose
        && address_n[1] == H | coin
        && address_n[2] >= H
        && address_n[2] < H + 100
        && address_n[3] <= 1
        && address_n[4] < 1_000_000;
    if ok {
        Ok(())
    } else {
        Err(failure(FailureType::DataError, "Forbidden key path"))
    }
}

fn address_for(ctx: &Ctx, key: &Xpriv, kind: In, net: Network) -> Flow<Address> {
    if kind == In::SpendTaproot && ctx.options.model == super::TrezorModel::KeepKey {
        return Err(failure(FailureType::DataError, "Invalid script type"));
    }
    let pk = CompressedPublicKey(key.private_key.public_key(&ctx.secp));
    Ok(match kind {
        In::SpendAddress => Address::p2pkh(pk, net),
        In::SpendP2shWitness => Address::p2shwpkh(&pk, net),
        In::SpendWitness => Address::p2wpkh(&pk, net),
        In::SpendTaproot => Address::p2tr(&ctx.secp, pk.0.x_only_public_key().0, None, net),
        _ => return Err(failure(FailureType::DataError, "Invalid script type")),
    })
}

fn btc(sats: u64) -> String {
    format!("{} BTC", coldlink_types::Amount::sats(sats))
}

pub(super) fn get_public_key(io: &Io, ctx: &Ctx, req: m::GetPublicKey) -> Flow<Out> {
    let net = network(req.coin_name.as_deref())?;
    let master = session_master(io, ctx)?;
    let path = path_of(&req.address_n);
    let key = derive(ctx, &master, &path)?;
    let mut xpub = Xpub::from_priv(&ctx.secp, &key);
    xpub.network = net.into();
    let magic = match (
        req.ignore_xpub_magic.unwrap_or(false),
        script_type(req.script_type)?,
        net,
    ) {
        (true, _, _) => None,
        (_, In::SpendP2shWitness, Network::Bitcoin) => Some([0x04, 0x9d, 0x7c, 0xb2]),
        (_, In::SpendWitness, Network::Bitcoin) => Some([0x04, 0xb2, 0x47, 0x46]),
        (_, In::SpendP2shWitness, _) => Some([0x04, 0x4a, 0x52, 0x62]),
        (_, In::SpendWitness, _) => Some([0x04, 0x5f, 0x1c, 0xf6]),
        _ => None,
    };
    let text = match magic {
        Some(v) => {
            let mut raw = xpub.encode();
            raw[..4].copy_from_slice(&v);
            base58::encode_check(&raw)
        }
        None => xpub.to_string(),
    };
    if req.show_display == Some(true) {
        confirm(
            io,
            ctx,
            m::ButtonRequestType::PublicKey,
            Screen {
                title: "Public key".into(),
                fields: vec![
                    ("Path".into(), path.to_string()),
                    ("XPUB".into(), text.clone()),
                ],
            },
        )?;
    }
    Ok(send(&m::PublicKey {
        node: m::HdNodeType {
            depth: u32::from(xpub.depth),
            fingerprint: u32::from_be_bytes(xpub.parent_fingerprint.to_bytes()),
            child_num: u32::from(xpub.child_number),
            chain_code: xpub.chain_code.to_bytes().to_vec(),
            private_key: None,
            public_key: xpub.public_key.serialize().to_vec(),
        },
        xpub: text,
        root_fingerprint: Some(u32::from_be_bytes(master.fingerprint(&ctx.secp).to_bytes())),
    }))
}

pub(super) fn get_address(io: &Io, ctx: &Ctx, req: m::GetAddress) -> Flow<Out> {
    let net = network(req.coin_name.as_deref())?;
    let kind = script_type(req.script_type)?;
    check_path(&req.address_n, kind, net)?;
    let master = session_master(io, ctx)?;
    let key = derive(ctx, &master, &path_of(&req.address_n))?;
    let address = address_for(ctx, &key, kind, net)?.to_string();
    if req.show_display == Some(true) {
        confirm(
            io,
            ctx,
            m::ButtonRequestType::Address,
            Screen {
                title: "Receive address".into(),
                fields: vec![
                    ("Path".into(), path_of(&req.address_n).to_string()),
                    ("Address".into(), address.clone()),
                ],
            },
        )?;
    }
    Ok(send(&m::Address { address }))
}

/// One input as the device holds it after step 1.
struct Input {
    msg: m::TxInputType,
    kind: In,
    key: Xpriv,
    prevout: TxOut,
}

/// The conversation's state: what is owed to the host on the next request.
struct Stream<'a> {
    io: &'a Io,
    serialized: Option<m::TxRequestSerializedType>,
}

impl Stream<'_> {
    fn request(
        &mut self,
        kind: RequestType,
        index: Option<u32>,
        tx_hash: Option<&[u8]>,
    ) -> Flow<m::TransactionType> {
        let req = m::TxRequest {
            request_type: Some(kind as i32),
            details: Some(m::TxRequestDetailsType {
                request_index: index,
                tx_hash: tx_hash.map(<[u8]>::to_vec),
                extra_data_len: None,
                extra_data_offset: None,
            }),
            serialized: self.serialized.take(),
        };
        let ack: m::TxAck = expect(ask(self.io, &req)?)?;
        ack.tx
            .ok_or_else(|| failure(FailureType::DataError, "Missing transaction data"))
    }

    fn input(&mut self, i: u32, tx_hash: Option<&[u8]>) -> Flow<m::TxInputType> {
        let mut t = self.request(RequestType::TxInput, Some(i), tx_hash)?;
        if t.inputs.len() != 1 {
            return Err(failure(FailureType::DataError, "Expected one input"));
        }
        Ok(t.inputs.remove(0))
    }

    fn output(&mut self, i: u32) -> Flow<m::TxOutputType> {
        let mut t = self.request(RequestType::TxOutput, Some(i), None)?;
        if t.outputs.len() != 1 {
            return Err(failure(FailureType::DataError, "Expected one output"));
        }
        Ok(t.outputs.remove(0))
    }
}

fn changed() -> Out {
    failure(
        FailureType::ProcessError,
        "Transaction has changed during signing",
    )
}

fn change_kind(t: OutType) -> Option<In> {
    match t {
        OutType::PayToAddress => Some(In::SpendAddress),
        OutType::PayToP2shWitness => Some(In::SpendP2shWitness),
        OutType::PayToWitness => Some(In::SpendWitness),
        OutType::PayToTaproot => Some(In::SpendTaproot),
        _ => None,
    }
}

/// The output's script, and whether it is change the user need not confirm.
fn resolve_output(
    ctx: &Ctx,
    master: &Xpriv,
    o: &m::TxOutputType,
    net: Network,
    inputs: &[Input],
) -> Flow<(TxOut, bool, String)> {
    let out_type = OutType::try_from(o.script_type.unwrap_or(0))
        .map_err(|_| failure(FailureType::DataError, "Invalid script type"))?;
    let value = Amount::from_sat(o.amount);
    if out_type == OutType::PayToOpReturn {
        let data = PushBytesBuf::try_from(o.op_return_data.clone().unwrap_or_default())
            .map_err(|_| failure(FailureType::DataError, "OP_RETURN data too long"))?;
        if o.amount != 0 {
            return Err(failure(
                FailureType::DataError,
                "OP_RETURN output with non-zero amount",
            ));
        }
        let hex = data
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        return Ok((
            TxOut {
                value,
                script_pubkey: ScriptBuf::new_op_return(data),
            },
            false,
            format!("OP_RETURN {hex}"),
        ));
    }
    if !o.address_n.is_empty() {
        if o.address.is_some() {
            return Err(failure(
                FailureType::DataError,
                "Both address and address_n provided.",
            ));
        }
        let kind = change_kind(out_type).ok_or_else(|| {
            failure(
                FailureType::DataError,
                "Output's address_n provided but not expected.",
            )
        })?;
        check_path(&o.address_n, kind, net)?;
        let key = derive(ctx, master, &path_of(&o.address_n))?;
        let addr = address_for(ctx, &key, kind, net)?;
        // Change only if it goes back to the inputs' own account and script type.
        let change = o.amount > 0
            && inputs
                .iter()
                .all(|i| i.kind == kind && i.msg.address_n[..3] == o.address_n[..3]);
        return Ok((
            TxOut {
                value,
                script_pubkey: addr.script_pubkey(),
            },
            change,
            addr.to_string(),
        ));
    }
    let text = o
        .address
        .as_deref()
        .ok_or_else(|| failure(FailureType::DataError, "Missing address"))?;
    let addr = Address::from_str(text)
        .ok()
        .and_then(|a| a.require_network(net).ok())
        .ok_or_else(|| failure(FailureType::DataError, "Invalid address"))?;
    Ok((
        TxOut {
            value,
            script_pubkey: addr.script_pubkey(),
        },
        false,
        addr.to_string(),
    ))
}

/// Reads a previous transaction from the host and checks it against the input spending it.
fn verify_prev_tx(s: &mut Stream<'_>, input: &Input) -> Flow<()> {
    let hash = input.msg.prev_hash.clone();
    let meta = s.request(RequestType::TxMeta, None, Some(&hash))?;
    let (Some(n_in), Some(n_out)) = (meta.inputs_cnt, meta.outputs_cnt) else {
        return Err(failure(
            FailureType::DataError,
            "Missing previous transaction counts",
        ));
    };
    if n_in > 10_000 || n_out > 10_000 {
        return Err(failure(
            FailureType::DataError,
            "Previous transaction too large",
        ));
    }
    let mut tx = Transaction {
        version: Version(meta.version.unwrap_or(1) as i32),
        lock_time: LockTime::from_consensus(meta.lock_time.unwrap_or(0)),
        input: Vec::new(),
        output: Vec::new(),
    };
    for j in 0..n_in {
        let i = s.input(j, Some(&hash))?;
        let txid = txid_from(&i.prev_hash)?;
        tx.input.push(TxIn {
            previous_output: OutPoint::new(txid, i.prev_index),
            script_sig: ScriptBuf::from_bytes(i.script_sig.unwrap_or_default()),
            sequence: Sequence(i.sequence.unwrap_or(u32::MAX)),
            witness: Witness::new(),
        });
    }
    for j in 0..n_out {
        let mut t = s.request(RequestType::TxOutput, Some(j), Some(&hash))?;
        if t.bin_outputs.len() != 1 {
            return Err(failure(
                FailureType::DataError,
                "Expected one previous output",
            ));
        }
        let o = t.bin_outputs.remove(0);
        tx.output.push(TxOut {
            value: Amount::from_sat(o.amount),
            script_pubkey: ScriptBuf::from_bytes(o.script_pubkey),
        });
    }
    if tx.compute_txid() != txid_from(&hash)? {
        return Err(failure(
            FailureType::DataError,
            "Encountered invalid prev_hash",
        ));
    }
    match tx.output.get(input.msg.prev_index as usize) {
        Some(o)
            if o.value == input.prevout.value && o.script_pubkey == input.prevout.script_pubkey =>
        {
            Ok(())
        }
        Some(_) => Err(failure(FailureType::DataError, "Invalid amount specified")),
        None => Err(failure(FailureType::DataError, "Invalid prev_index")),
    }
}

fn txid_from(display_order: &[u8]) -> Flow<Txid> {
    let mut b: [u8; 32] = display_order
        .try_into()
        .map_err(|_| failure(FailureType::DataError, "Invalid prev_hash"))?;
    b.reverse();
    Ok(Txid::from_byte_array(b))
}

pub(super) fn sign_tx(io: &Io, ctx: &Ctx, req: m::SignTx) -> Flow<Out> {
    let net = network(req.coin_name.as_deref())?;
    if req.inputs_count == 0
        || req.outputs_count == 0
        || req.inputs_count > 1000
        || req.outputs_count > 1000
    {
        return Err(failure(
            FailureType::DataError,
            "Invalid number of inputs or outputs",
        ));
    }
    let master = session_master(io, ctx)?;
    let mut s = Stream {
        io,
        serialized: None,
    };

    // 1: inputs.
    let mut inputs = Vec::new();
    for i in 0..req.inputs_count {
        let msg = s.input(i, None)?;
        let kind = script_type(msg.script_type)?;
        if kind == In::External || kind == In::SpendMultisig {
            return Err(failure(
                FailureType::DataError,
                "Only single-signature inputs of this wallet can be signed",
            ));
        }
        check_path(&msg.address_n, kind, net)?;
        let amount = msg
            .amount
            .ok_or_else(|| failure(FailureType::DataError, "Missing input amount"))?;
        txid_from(&msg.prev_hash)?;
        let key = derive(ctx, &master, &path_of(&msg.address_n))?;
        let script_pubkey = address_for(ctx, &key, kind, net)?.script_pubkey();
        inputs.push(Input {
            msg,
            kind,
            key,
            prevout: TxOut {
                value: Amount::from_sat(amount),
                script_pubkey,
            },
        });
    }
    let taproot_only = inputs.iter().all(|i| i.kind == In::SpendTaproot);

    // 2: outputs, each confirmed unless it is change; then the total.
    let mut outputs = Vec::new();
    let mut spent_out = 0u64;
    for i in 0..req.outputs_count {
        let msg = s.output(i)?;
        let (txout, change, shown) = resolve_output(ctx, &master, &msg, net, &inputs)?;
        if !change {
            spent_out = spent_out.saturating_add(msg.amount);
            confirm(
                io,
                ctx,
                m::ButtonRequestType::ConfirmOutput,
                Screen {
                    title: "Confirm sending".into(),
                    fields: vec![
                        ("Address".into(), shown),
                        ("Amount".into(), btc(msg.amount)),
                    ],
                },
            )?;
        }
        outputs.push((msg, txout));
    }
    let total_in = inputs
        .iter()
        .try_fold(0u64, |a, i| a.checked_add(i.prevout.value.to_sat()));
    let total_out = outputs
        .iter()
        .try_fold(0u64, |a, (m, _)| a.checked_add(m.amount));
    let (Some(total_in), Some(total_out)) = (total_in, total_out) else {
        return Err(failure(FailureType::DataError, "Invalid amount"));
    };
    let Some(fee) = total_in.checked_sub(total_out) else {
        return Err(failure(FailureType::NotEnoughFunds, "Not enough funds"));
    };
    confirm(
        io,
        ctx,
        m::ButtonRequestType::SignTx,
        Screen {
            title: "Confirm transaction".into(),
            fields: vec![
                ("Total amount".into(), btc(spent_out.saturating_add(fee))),
                ("Including fee".into(), btc(fee)),
            ],
        },
    )?;

    // 3: previous transactions, unless every input is taproot (its sighash commits to all amounts).
    if !taproot_only {
        for (i, input) in inputs.iter().enumerate() {
            if s.input(i as u32, None)? != input.msg {
                return Err(changed());
            }
            verify_prev_tx(&mut s, input)?;
        }
    }

    let mut tx = Transaction {
        version: Version(req.version.unwrap_or(1) as i32),
        lock_time: LockTime::from_consensus(req.lock_time.unwrap_or(0)),
        input: inputs
            .iter()
            .map(|i| -> Flow<TxIn> {
                Ok(TxIn {
                    previous_output: OutPoint::new(txid_from(&i.msg.prev_hash)?, i.msg.prev_index),
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence(i.msg.sequence.unwrap_or(u32::MAX)),
                    witness: Witness::new(),
                })
            })
            .collect::<Flow<_>>()?,
        output: outputs.iter().map(|(_, o)| o.clone()).collect(),
    };
    let prevouts: Vec<TxOut> = inputs.iter().map(|i| i.prevout.clone()).collect();

    // 4–6: the host streams everything again while the device serialises and signs.
    let mut signatures = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if s.input(i as u32, None)? != input.msg {
            return Err(changed());
        }
        if input.kind == In::SpendAddress {
            signatures.push(sign_input(ctx, &tx, &prevouts, i, input)?);
            s.serialized = Some(signature_piece(i, &signatures[signatures.len() - 1].0));
        }
    }
    for (i, (msg, _)) in outputs.iter().enumerate() {
        if &s.output(i as u32)? != msg {
            return Err(changed());
        }
    }
    for (i, input) in inputs.iter().enumerate() {
        if input.kind == In::SpendAddress {
            continue;
        }
        if s.input(i as u32, None)? != input.msg {
            return Err(changed());
        }
        signatures.push(sign_input(ctx, &tx, &prevouts, i, input)?);
        s.serialized = Some(signature_piece(i, &signatures[signatures.len() - 1].0));
    }
    signatures.sort_by_key(|(_, i, _, _)| *i);
    for (_, i, script_sig, witness) in signatures {
        tx.input[i].script_sig = script_sig;
        tx.input[i].witness = witness;
    }
    let mut last = s.serialized.take().unwrap_or_default();
    last.serialized_tx = Some(serialize(&tx));
    Ok(send(&m::TxRequest {
        request_type: Some(RequestType::TxFinished as i32),
        details: None,
        serialized: Some(last),
    }))
}

fn signature_piece(i: usize, sig: &[u8]) -> m::TxRequestSerializedType {
    m::TxRequestSerializedType {
        signature_index: Some(i as u32),
        signature: Some(sig.to_vec()),
        serialized_tx: None,
    }
}

/// Signs input `i`: (signature as sent to the host, index, scriptSig, witness).
fn sign_input(
    ctx: &Ctx,
    tx: &Transaction,
    prevouts: &[TxOut],
    i: usize,
    input: &Input,
) -> Flow<(Vec<u8>, usize, ScriptBuf, Witness)> {
    fn fail<E>(_: E) -> Out {
        failure(FailureType::ProcessError, "Signing failed")
    }
    let mut cache = SighashCache::new(tx);
    let sk = input.key.private_key;
    let pk = CompressedPublicKey(sk.public_key(&ctx.secp));
    let ecdsa_sig = |digest: [u8; 32]| ctx.secp.sign_ecdsa(&Message::from_digest(digest), &sk);
    match input.kind {
        In::SpendTaproot => {
            let h = cache
                .taproot_key_spend_signature_hash(
                    i,
                    &Prevouts::All(prevouts),
                    TapSighashType::Default,
                )
                .map_err(fail)?;
            let kp = Keypair::from_secret_key(&ctx.secp, &sk)
                .tap_tweak(&ctx.secp, None)
                .to_keypair();
            let sig = ctx
                .secp
                .sign_schnorr_no_aux_rand(&Message::from_digest(h.to_byte_array()), &kp);
            let bytes = sig.as_ref().to_vec();
            Ok((
                bytes.clone(),
                i,
                ScriptBuf::new(),
                Witness::from_slice(&[bytes]),
            ))
        }
        In::SpendWitness | In::SpendP2shWitness => {
            let wpkh = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
            let h = cache
                .p2wpkh_signature_hash(i, &wpkh, input.prevout.value, EcdsaSighashType::All)
                .map_err(fail)?;
            let sig = ecdsa_sig(h.to_byte_array());
            let full = ecdsa::Signature::sighash_all(sig);
            let witness = Witness::p2wpkh(&full, &pk.0);
            let script_sig = if input.kind == In::SpendP2shWitness {
                let redeem = PushBytesBuf::try_from(wpkh.to_bytes()).map_err(|_| changed())?;
                bitcoin::script::Builder::new()
                    .push_slice(redeem)
                    .into_script()
            } else {
                ScriptBuf::new()
            };
            Ok((sig.serialize_der().to_vec(), i, script_sig, witness))
        }
        _ => {
            let h = cache
                .legacy_signature_hash(
                    i,
                    &input.prevout.script_pubkey,
                    EcdsaSighashType::All.to_u32(),
                )
                .map_err(fail)?;
            let sig = ecdsa_sig(h.to_byte_array());
            let full = ecdsa::Signature::sighash_all(sig);
            let script_sig = bitcoin::script::Builder::new()
                .push_slice(full.serialize())
                .push_key(&bitcoin::PublicKey::new(pk.0))
                .into_script();
            Ok((sig.serialize_der().to_vec(), i, script_sig, Witness::new()))
        }
    }
}
