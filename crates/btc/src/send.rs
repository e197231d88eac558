//! Sending from an account: recipients checked one by one with a message per failure, a PSBT
//! built by BDK (coin selection, change to the internal chain, RBF signalled, BIP32 origins for
//! the signer), the review a person reads before signing, and the checks a signed PSBT must
//! pass before it may be broadcast — same transaction as reviewed, every input signed,
//! finalised, and accepted by Bitcoin Core's script interpreter. Fee bumps (RBF) and
//! child-pays-for-parent build on the same review.

use std::str::FromStr;

use bdk_wallet::{error::CreateTxError, AddUtxoError, KeychainKind, SignOptions};
use bitcoin::{
    address::NetworkUnchecked, Address, Amount, FeeRate, Network, OutPoint, Psbt, Transaction,
    TxOut, Txid, Weight,
};

use crate::{consensus, sync::AccountWallet};

/// Why a send cannot be built, or a signed one cannot be used. Nothing has been broadcast when
/// one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Not an address at all, or a typo (bad checksum).
    #[error("“{0}” is not a valid Bitcoin address: check it for a typo")]
    BadAddress(String),
    /// A valid address of another network.
    #[error("“{address}” is an address for {found}, but this account is on {expected}")]
    WrongNetwork {
        /// What was typed.
        address: String,
        /// Its network.
        found: String,
        /// The account's.
        expected: String,
    },
    /// An amount that cannot be read.
    #[error("“{0}” is not an amount: write it like 0.001 (BTC) or 100000 (sats)")]
    BadAmount(String),
    /// No recipient, or zero.
    #[error("{0}")]
    Nothing(String),
    /// Too small to be relayed.
    #[error("the amount to {address} is below the dust limit ({limit} sats for this address type): send more")]
    Dust {
        /// Recipient.
        address: String,
        /// Smallest amount the network relays to it.
        limit: u64,
    },
    /// Not enough coins.
    #[error("not enough funds: this needs {needed} sats including the fee, the account can spend {available} sats")]
    InsufficientFunds {
        /// Amount plus fee.
        needed: u64,
        /// Spendable.
        available: u64,
    },
    /// A coin the user picked cannot be spent.
    #[error("the coin {0} is not in this account or is already spent")]
    UnknownCoin(String),
    /// A fee bump or CPFP that is not possible.
    #[error("{0}")]
    Bump(String),
    /// The signed transaction is not the one reviewed.
    #[error("the signed transaction differs from what you reviewed ({0}); nothing was broadcast")]
    Changed(String),
    /// Some input has no signature.
    #[error("input {0} was not signed; nothing was broadcast")]
    Unsigned(usize),
    /// The script interpreter refused it.
    #[error("the signed transaction is invalid ({0}); nothing was broadcast")]
    Invalid(String),
    /// Anything else BDK refused.
    #[error("the transaction cannot be built: {0}")]
    Build(String),
}

/// Checks a recipient address typed by a person: readable, checksum right, same network.
pub fn parse_address(text: &str, network: Network) -> Result<Address, SendError> {
    let t = text.trim();
    let unchecked = Address::<NetworkUnchecked>::from_str(t)
        .map_err(|_| SendError::BadAddress(t.to_owned()))?;
    if unchecked.is_valid_for_network(network) {
        return Ok(unchecked.assume_checked());
    }
    let found = [
        Network::Bitcoin,
        Network::Testnet,
        Network::Signet,
        Network::Regtest,
    ]
    .into_iter()
    .find(|n| unchecked.is_valid_for_network(*n))
    .map(|n| match n {
        Network::Bitcoin => "mainnet",
        Network::Regtest => "regtest",
        _ => "a test network (testnet/signet)",
    })
    .unwrap_or("another network");
    Err(SendError::WrongNetwork {
        address: t.to_owned(),
        found: found.to_owned(),
        expected: network_name(network).to_owned(),
    })
}

fn network_name(n: Network) -> &'static str {
    match n {
        Network::Bitcoin => "mainnet",
        Network::Testnet => "testnet",
        Network::Testnet4 => "testnet4",
        Network::Signet => "signet",
        _ => "regtest",
    }
}

/// Units a person may type an amount in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bitcoin, up to 8 decimals.
    Btc,
    /// Satoshis, whole.
    Sats,
}

/// Reads an amount exactly (no floating point).
pub fn parse_amount(text: &str, unit: Unit) -> Result<Amount, SendError> {
    let t = text.trim().replace(['_', ','], "");
    let bad = || SendError::BadAmount(text.trim().to_owned());
    let a = match unit {
        Unit::Sats => Amount::from_sat(t.parse::<u64>().map_err(|_| bad())?),
        Unit::Btc => Amount::from_str_in(&t, bitcoin::Denomination::Bitcoin).map_err(|_| bad())?,
    };
    if a == Amount::ZERO {
        return Err(SendError::Nothing(
            "the amount must be more than zero".into(),
        ));
    }
    Ok(a)
}

/// What to send.
#[derive(Clone, Debug, Default)]
pub struct SendRequest {
    /// Recipients and amounts.
    pub recipients: Vec<(Address, Amount)>,
    /// Send everything (the chosen coins, or all spendable) to this address; with
    /// `recipients`, what is left after them goes here instead of to change.
    pub send_max_to: Option<Address>,
    /// Fee rate in sat/vB.
    pub fee_rate: u64,
    /// Coin control: spend exactly these coins.
    pub coins: Vec<OutPoint>,
    /// Coin control: never spend these.
    pub frozen: Vec<OutPoint>,
}

/// One output as the review shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewOutput {
    /// Address.
    pub address: String,
    /// Amount.
    pub amount: Amount,
    /// Change back to this account (internal chain, derivation checked).
    pub change: bool,
    /// One of this account's own receive addresses (a send to self).
    pub own: bool,
}

/// What is about to be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// Coins spent.
    pub inputs: Vec<(OutPoint, Amount)>,
    /// Every output, in transaction order.
    pub outputs: Vec<ReviewOutput>,
    /// Fee.
    pub fee: Amount,
    /// Virtual size once signed (upper bound).
    pub vsize: u64,
    /// Fee rate in tenths of sat/vB.
    pub fee_rate_decis: u64,
    /// Total of non-change outputs.
    pub sent: Amount,
    /// Fee as a share of `sent`, in basis points (1/100 %).
    pub fee_share_bp: u64,
    /// Replaceable (BIP125).
    pub rbf: bool,
}

impl Review {
    /// The warning a review must show when the fee is high: above `max_share_bp` of what is
    /// sent, or above `max_fee` when set.
    pub fn fee_warning(&self, max_share_bp: u64, max_fee: Option<Amount>) -> Option<String> {
        if self.fee_share_bp > max_share_bp {
            return Some(format!(
                "the fee is {}.{:02} % of the amount sent",
                self.fee_share_bp / 100,
                self.fee_share_bp % 100
            ));
        }
        match max_fee {
            Some(m) if self.fee > m => Some(format!(
                "the fee of {} sats is above your limit of {} sats",
                self.fee.to_sat(),
                m.to_sat()
            )),
            _ => None,
        }
    }
}

/// A transaction ready for a signer.
#[derive(Clone, Debug)]
pub struct Draft {
    /// Unsigned, with every field a signer needs.
    pub psbt: Psbt,
    /// What the person reviews.
    pub review: Review,
}

/// A coin (unspent output) for coin control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coin {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Value.
    pub amount: Amount,
    /// Address holding it.
    pub address: String,
    /// Change (internal chain).
    pub change: bool,
    /// Confirmed in a block.
    pub confirmed: bool,
}

fn create_error(e: CreateTxError, psbt_outputs: &[(Address, Amount)]) -> SendError {
    match e {
        CreateTxError::CoinSelection(i) => SendError::InsufficientFunds {
            needed: i.needed.to_sat(),
            available: i.available.to_sat(),
        },
        CreateTxError::OutputBelowDustLimit(i) => {
            let a = psbt_outputs.get(i);
            SendError::Dust {
                address: a.map(|(a, _)| a.to_string()).unwrap_or_default(),
                limit: a
                    .map(|(a, _)| a.script_pubkey().minimal_non_dust().to_sat())
                    .unwrap_or(546),
            }
        }
        CreateTxError::NoRecipients => SendError::Nothing("add a recipient".into()),
        CreateTxError::NoUtxosSelected => {
            SendError::Nothing("no coins to spend: pick at least one coin".into())
        }
        CreateTxError::FeeRateTooLow { required } => SendError::Bump(format!(
            "the new fee rate must be at least {} sat/vB",
            required.to_sat_per_vb_ceil()
        )),
        CreateTxError::FeeTooLow { required } => SendError::Bump(format!(
            "the new fee must be at least {} sats",
            required.to_sat()
        )),
        other => SendError::Build(other.to_string()),
    }
}

fn fee_rate(sat_vb: u64) -> Result<FeeRate, SendError> {
    if sat_vb == 0 || sat_vb > 10_000 {
        return Err(SendError::Nothing(
            "the fee rate must be between 1 and 10000 sat/vB".into(),
        ));
    }
    FeeRate::from_sat_per_vb(sat_vb).ok_or_else(|| SendError::Nothing("fee rate".into()))
}

impl AccountWallet {
    /// The coins this account can spend.
    pub fn coins(&self) -> Vec<Coin> {
        let network = self.wallet.network();
        self.wallet
            .list_unspent()
            .map(|u| Coin {
                outpoint: u.outpoint,
                amount: u.txout.value,
                address: Address::from_script(&u.txout.script_pubkey, network)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                change: u.keychain == KeychainKind::Internal,
                confirmed: u.chain_position.is_confirmed(),
            })
            .collect()
    }

    /// Builds the transaction for `req`, ready for review and signing.
    pub fn build_send(&mut self, req: &SendRequest) -> Result<Draft, SendError> {
        if req.recipients.is_empty() && req.send_max_to.is_none() {
            return Err(SendError::Nothing("add a recipient".into()));
        }
        let rate = fee_rate(req.fee_rate)?;
        let mut b = self.wallet.build_tx();
        for (a, amount) in &req.recipients {
            b.add_recipient(a.script_pubkey(), *amount);
        }
        if !req.coins.is_empty() {
            b.add_utxos(&req.coins).map_err(|e| match e {
                AddUtxoError::UnknownUtxo(op) => SendError::UnknownCoin(op.to_string()),
            })?;
            b.manually_selected_only();
        }
        b.unspendable(req.frozen.clone());
        if let Some(to) = &req.send_max_to {
            if req.coins.is_empty() {
                b.drain_wallet();
            }
            b.drain_to(to.script_pubkey());
        }
        b.fee_rate(rate);
        let psbt = b.finish().map_err(|e| create_error(e, &req.recipients))?;
        let review = self.review(&psbt)?;
        Ok(Draft { psbt, review })
    }

    /// A replacement for our unconfirmed `txid` paying `fee_rate` sat/vB (RBF).
    pub fn bump_fee(&mut self, txid: Txid, fee_rate_sat_vb: u64) -> Result<Draft, SendError> {
        let rate = fee_rate(fee_rate_sat_vb)?;
        let mut b = self
            .wallet
            .build_fee_bump(txid)
            .map_err(|e| SendError::Bump(bump_message(&e)))?;
        b.fee_rate(rate);
        let psbt = b.finish().map_err(|e| create_error(e, &[]))?;
        let review = self.review(&psbt)?;
        Ok(Draft { psbt, review })
    }

    /// Child-pays-for-parent: spends this account's outputs of the unconfirmed `parent` (fee
    /// `parent_fee`, size `parent_vsize`, from the node's mempool) back to our change chain with
    /// a fee that brings parent and child together to `fee_rate` sat/vB.
    pub fn cpfp(
        &mut self,
        parent: Txid,
        parent_fee: Amount,
        parent_vsize: u64,
        fee_rate_sat_vb: u64,
    ) -> Result<Draft, SendError> {
        let rate = fee_rate(fee_rate_sat_vb)?;
        let coins: Vec<OutPoint> = self
            .wallet
            .list_unspent()
            .filter(|u| u.outpoint.txid == parent)
            .map(|u| u.outpoint)
            .collect();
        if coins.is_empty() {
            return Err(SendError::Bump(
                "this transaction pays nothing to this account that is still unspent".into(),
            ));
        }
        if self
            .wallet
            .get_tx(parent)
            .is_some_and(|t| t.chain_position.is_confirmed())
        {
            return Err(SendError::Bump(
                "this transaction is already confirmed".into(),
            ));
        }
        let change = self
            .wallet
            .next_unused_address(KeychainKind::Internal)
            .address;
        let build = |w: &mut Self, fee: Option<Amount>| {
            let mut b = w.wallet.build_tx();
            b.add_utxos(&coins)
                .map_err(|_| SendError::UnknownCoin(parent.to_string()))?;
            b.manually_selected_only();
            b.drain_to(change.script_pubkey());
            match fee {
                Some(f) => b.fee_absolute(f),
                None => b.fee_rate(rate),
            };
            b.finish().map_err(|e| create_error(e, &[]))
        };
        // First pass learns the child's size; the second pays for both.
        let probe = build(self, None)?;
        let child_vsize = self.signed_vsize(&probe)?;
        let package = rate * Weight::from_vb_unchecked(parent_vsize + child_vsize);
        let fee = package
            .checked_sub(parent_fee)
            .filter(|f| *f > Amount::ZERO)
            .ok_or_else(|| {
                SendError::Bump("the payment already pays at least this fee rate".into())
            })?;
        let psbt = build(self, Some(fee))?;
        let review = self.review(&psbt)?;
        Ok(Draft { psbt, review })
    }

    /// The virtual size of `psbt` once its inputs are signed (an upper bound: longest
    /// signatures).
    fn signed_vsize(&self, psbt: &Psbt) -> Result<u64, SendError> {
        let satisfaction = |k| {
            self.wallet
                .public_descriptor(k)
                .max_weight_to_satisfy()
                .map_err(|e| SendError::Build(e.to_string()))
        };
        let (external, internal) = (
            satisfaction(KeychainKind::External)?,
            satisfaction(KeychainKind::Internal)?,
        );
        let mut weight = psbt.unsigned_tx.weight();
        let mut segwit = false;
        for input in &psbt.unsigned_tx.input {
            let spk = self
                .spent_output(psbt, input.previous_output)?
                .script_pubkey;
            let (keychain, _) = self
                .wallet
                .derivation_of_spk(spk.clone())
                .ok_or_else(|| SendError::Build("an input is not this account's".into()))?;
            let sat = match keychain {
                KeychainKind::External => external,
                KeychainKind::Internal => internal,
            };
            segwit |= spk.is_witness_program() || spk.is_p2sh();
            weight += sat;
        }
        if segwit {
            // Marker and flag, and each input's witness item count (the satisfaction weights
            // count from an input that already has an empty witness).
            weight += Weight::from_wu(2 + psbt.unsigned_tx.input.len() as u64);
        }
        Ok(weight.to_vbytes_ceil())
    }

    fn spent_output(&self, psbt: &Psbt, op: OutPoint) -> Result<TxOut, SendError> {
        // Our own record first (a direct lookup in the transaction graph): a PSBT's claims
        // about what it spends are not trusted.
        if let Some(o) = self.wallet.tx_graph().get_txout(op) {
            return Ok(o.clone());
        }
        let i = psbt
            .unsigned_tx
            .input
            .iter()
            .position(|i| i.previous_output == op);
        i.and_then(|i| psbt.inputs.get(i))
            .and_then(|i| i.witness_utxo.clone())
            .ok_or_else(|| SendError::UnknownCoin(op.to_string()))
    }

    /// The review of an unsigned PSBT built by this wallet.
    pub fn review(&self, psbt: &Psbt) -> Result<Review, SendError> {
        let network = self.wallet.network();
        let tx = &psbt.unsigned_tx;
        let mut inputs = Vec::new();
        let mut total_in = Amount::ZERO;
        for i in &tx.input {
            let o = self.spent_output(psbt, i.previous_output)?;
            total_in += o.value;
            inputs.push((i.previous_output, o.value));
        }
        let mut outputs = Vec::new();
        let mut total_out = Amount::ZERO;
        let mut sent = Amount::ZERO;
        for (n, o) in tx.output.iter().enumerate() {
            total_out += o.value;
            let ours = self.wallet.derivation_of_spk(o.script_pubkey.clone());
            let change = matches!(ours, Some((KeychainKind::Internal, _)))
                && psbt.outputs.get(n).is_some_and(|p| {
                    !p.bip32_derivation.is_empty() || !p.tap_key_origins.is_empty()
                });
            if !change {
                sent += o.value;
            }
            outputs.push(ReviewOutput {
                address: Address::from_script(&o.script_pubkey, network)
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| format!("script {}", o.script_pubkey)),
                amount: o.value,
                change,
                own: matches!(ours, Some((KeychainKind::External, _))),
            });
        }
        let fee = total_in
            .checked_sub(total_out)
            .ok_or_else(|| SendError::Build("outputs exceed inputs".into()))?;
        let vsize = self.signed_vsize(psbt)?.max(1);
        let fee_share_bp = if sent == Amount::ZERO {
            10_000
        } else {
            (u128::from(fee.to_sat()) * 10_000 / u128::from(sent.to_sat())) as u64
        };
        Ok(Review {
            inputs,
            outputs,
            fee,
            vsize,
            fee_rate_decis: (fee.to_sat() * 10 + vsize / 2) / vsize,
            sent,
            fee_share_bp,
            rbf: tx.is_explicitly_rbf(),
        })
    }

    /// Takes a signed PSBT back (from a device, or imported from a file) and returns the final
    /// transaction, or says why it may not be broadcast. Only signatures are taken from
    /// `signed`: the transaction must be exactly the reviewed one, and what it spends comes from
    /// our own records.
    pub fn finish(&self, draft: &Draft, signed: &Psbt) -> Result<Transaction, SendError> {
        if signed.unsigned_tx != draft.psbt.unsigned_tx {
            return Err(SendError::Changed(describe_change(
                &draft.psbt.unsigned_tx,
                &signed.unsigned_tx,
            )));
        }
        let mut psbt = draft.psbt.clone();
        for (ours, theirs) in psbt.inputs.iter_mut().zip(&signed.inputs) {
            ours.partial_sigs.extend(theirs.partial_sigs.clone());
            if ours.tap_key_sig.is_none() {
                ours.tap_key_sig = theirs.tap_key_sig;
            }
            ours.tap_script_sigs.extend(theirs.tap_script_sigs.clone());
            if ours.final_script_sig.is_none() {
                ours.final_script_sig = theirs.final_script_sig.clone();
            }
            if ours.final_script_witness.is_none() {
                ours.final_script_witness = theirs.final_script_witness.clone();
            }
        }
        let opts = SignOptions {
            trust_witness_utxo: true,
            ..SignOptions::default()
        };
        // A failure here means some input could not be satisfied; say which.
        let _ = self.wallet.finalize_psbt(&mut psbt, opts);
        if let Some(i) = psbt
            .inputs
            .iter()
            .position(|i| i.final_script_sig.is_none() && i.final_script_witness.is_none())
        {
            return Err(SendError::Unsigned(i));
        }
        let spent = psbt
            .unsigned_tx
            .input
            .iter()
            .map(|i| self.spent_output(&draft.psbt, i.previous_output))
            .collect::<Result<Vec<_>, _>>()?;
        // The fee was reviewed; the extractor's own absurd-fee guard would only repeat it.
        let tx = psbt.extract_tx_unchecked_fee_rate();
        consensus::verify_tx(&tx, &spent).map_err(|e| SendError::Invalid(e.to_string()))?;
        Ok(tx)
    }

    /// Records a transaction we broadcast so balances and history show it at once.
    pub fn record_broadcast(
        &mut self,
        tx: Transaction,
        now_unix: u64,
    ) -> Result<(), crate::sync::SyncError> {
        self.wallet.apply_unconfirmed_txs([(tx, now_unix)]);
        self.persist()
    }
}

fn describe_change(reviewed: &Transaction, signed: &Transaction) -> String {
    if reviewed.output.len() != signed.output.len() {
        return "a different number of outputs".into();
    }
    for (n, (a, b)) in reviewed.output.iter().zip(&signed.output).enumerate() {
        if a.value != b.value {
            return format!("output {n} has another amount");
        }
        if a.script_pubkey != b.script_pubkey {
            return format!("output {n} pays another address");
        }
    }
    if reviewed.input != signed.input {
        return "it spends other coins".into();
    }
    "its version or lock time differ".into()
}

fn bump_message(e: &bdk_wallet::error::BuildFeeBumpError) -> String {
    use bdk_wallet::error::BuildFeeBumpError as E;
    match e {
        E::TransactionNotFound(_) => "this transaction is not in this account".into(),
        E::TransactionConfirmed(_) => "this transaction is already confirmed".into(),
        E::IrreplaceableTransaction(_) => {
            "this transaction did not signal replace-by-fee; use CPFP instead".into()
        }
        E::UnknownUtxo(_) | E::InvalidOutputIndex(_) => {
            "a coin this transaction spends is not known to this account".into()
        }
        E::FeeRateUnavailable => "the fee of this transaction cannot be worked out".into(),
    }
}

/// Reads a PSBT from base64 text or raw bytes, with a clear message when it is neither.
pub fn parse_psbt(input: &[u8]) -> Result<Psbt, SendError> {
    if let Ok(p) = Psbt::deserialize(input) {
        return Ok(p);
    }
    let text = String::from_utf8_lossy(input);
    Psbt::from_str(text.trim()).map_err(|e| {
        SendError::Build(format!(
            "this is not a PSBT (base64 text or a binary .psbt file): {e}"
        ))
    })
}
