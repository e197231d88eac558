//! Bitcoin accounts at work: the user's node per network (with a connection test), sync of
//! every account into balances the portfolio reads, receive (next unused address, verified on
//! the device), and send — review, sign on the account's signer (a device found by its
//! fingerprint, or the software wallet), check what comes back, broadcast, journal — plus fee
//! bump, CPFP and PSBT export / import for air-gapped signers.

use std::{
    collections::HashMap,
    path::PathBuf,
    str::FromStr,
    sync::{Arc, Mutex},
};

use bitcoin::{Amount, Network, OutPoint, Psbt, Txid};
use coldlink_btc::{
    node::NodeError,
    parse_watch,
    send::{parse_address, parse_amount, Draft, SendError, SendRequest, Unit},
    sync::{AccountWallet, SyncError},
    BtcAccount, Watched,
};
use coldlink_signer::BitcoinSigner;
use coldlink_store::AccountRow;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{AppError, Coldlink, ErrorKind};

impl From<SendError> for AppError {
    fn from(e: SendError) -> Self {
        let kind = match e {
            SendError::InsufficientFunds { .. } => ErrorKind::InvalidInput,
            SendError::Changed(_) | SendError::Unsigned(_) | SendError::Invalid(_) => {
                ErrorKind::DeviceError
            }
            _ => ErrorKind::InvalidInput,
        };
        AppError::new(kind, crate::error::capitalise(&e.to_string()))
    }
}

impl From<NodeError> for AppError {
    fn from(e: NodeError) -> Self {
        AppError::new(
            ErrorKind::Disconnected,
            crate::error::capitalise(&e.to_string()),
        )
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        let kind = match e {
            SyncError::Node(_) => ErrorKind::Disconnected,
            _ => ErrorKind::Internal,
        };
        AppError::new(kind, crate::error::capitalise(&e.to_string()))
    }
}

/// Reviewed Bitcoin sends waiting for "Send" (or for a signed PSBT to come back).
#[derive(Clone, Default)]
pub(crate) struct BtcDrafts(Arc<Mutex<(u32, HashMap<u32, Pending>)>>);

impl std::fmt::Debug for BtcDrafts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BtcDrafts")
    }
}

#[derive(Clone)]
struct Pending {
    account_id: i64,
    network: Network,
    draft: Draft,
    what: &'static str,
}

/// A receive address.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReceiveView {
    /// The address.
    pub address: String,
    /// Its index on the receive chain.
    pub index: u32,
    /// `bitcoin:` URI for the QR code.
    pub uri: String,
    /// Whether it was shown and confirmed on the account's device.
    pub verified: bool,
    /// Whether the account's signer can show it (a device).
    pub can_verify: bool,
    /// What to compare with the device's screen, when the device writes the same address
    /// differently (a Ledger shows regtest addresses in testnet form, tb1…).
    pub device_shows: Option<String>,
}

/// One output in a Bitcoin review.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcOutputView {
    /// Address.
    pub address: String,
    /// Amount in BTC.
    pub amount: String,
    /// Sats.
    pub sats: String,
    /// Change back to this account.
    pub change: bool,
    /// In the user's currency, when a price is known.
    pub fiat: Option<String>,
}

/// What the user reviews before signing a Bitcoin transaction.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcReview {
    /// Review id for confirm / export / import.
    pub id: u32,
    /// "send", "fee bump" or "CPFP".
    pub kind: String,
    /// Every output.
    pub outputs: Vec<BtcOutputView>,
    /// Coins spent.
    pub inputs: u32,
    /// Fee in BTC.
    pub fee: String,
    /// Fee in sats.
    pub fee_sats: String,
    /// Fee in the user's currency.
    pub fee_fiat: Option<String>,
    /// Fee rate, sat/vB with one decimal.
    pub fee_rate: String,
    /// Fee as a share of what is sent ("0.42 %").
    pub fee_share: String,
    /// Shown above the Send button when the fee is high.
    pub warning: Option<String>,
    /// Replaceable (RBF).
    pub rbf: bool,
    /// Who signs.
    pub signer_name: String,
    /// Whether Coldlink can sign here (false: export the PSBT to an air-gapped signer).
    pub can_sign: bool,
    /// Network.
    pub network: String,
}

/// When a Bitcoin review warns about the fee (Settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FeeWarningSettings {
    /// Warn when the fee is above this share of the amount sent, in percent ("5", "2.5").
    pub share_percent: String,
    /// Warn too whenever the fee is above this many sats; empty for no such limit.
    pub max_fee_sats: String,
}

/// A broadcast transaction.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcSent {
    /// Txid.
    pub txid: String,
}

/// A recipient as typed.
#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecipientInput {
    /// Address.
    pub address: String,
    /// Amount as typed.
    pub amount: String,
    /// "btc" or "sats".
    pub unit: String,
}

pub(crate) fn network_key(n: Network) -> String {
    format!("bitcoin:{n}")
}

pub(crate) fn btc_text(a: Amount) -> String {
    {
        let s = a.to_string_in(bitcoin::Denomination::Bitcoin);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

impl Coldlink {
    fn btc_wallet_path(&self, row: &AccountRow) -> Result<PathBuf, AppError> {
        let dir = self.data_dir().join("bitcoin");
        std::fs::create_dir_all(&dir)
            .map_err(|e| AppError::internal(format!("cannot create {}: {e}", dir.display())))?;
        Ok(dir.join(format!(
            "{}-account-{}.sqlite",
            row.network.as_deref().unwrap_or("bitcoin"),
            row.id
        )))
    }

    fn btc_row(&self, id: u32) -> Result<(AccountRow, Network, BtcAccount), AppError> {
        let row = self
            .with_store(|s| {
                s.account(i64::from(id))
                    .map_err(|e| AppError::internal(e.to_string()))
            })?
            .filter(|r| r.chain == "bitcoin")
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "no such Bitcoin account"))?;
        let network = row
            .network
            .as_deref()
            .and_then(|n| Network::from_str(n).ok())
            .ok_or_else(|| AppError::internal("the account has no network"))?;
        match parse_watch(&row.address, network, None)? {
            Watched::Account(a) => Ok((row, network, *a)),
            Watched::Address(_) => Err(AppError::new(
                ErrorKind::Unsupported,
                "a single watched address has a balance only: watch its account's xpub or descriptor for history, receiving and sending",
            )),
        }
    }

    pub(crate) fn open_wallet(
        &self,
        id: u32,
    ) -> Result<(AccountRow, Network, AccountWallet), AppError> {
        let (row, network, acc) = self.btc_row(id)?;
        let w = AccountWallet::open(&self.btc_wallet_path(&row)?, &acc)?;
        Ok((row, network, w))
    }

    /// The account's next unused receive address.
    pub fn btc_receive(&self, account_id: u32) -> Result<ReceiveView, AppError> {
        let (row, _, mut w) = self.open_wallet(account_id)?;
        let info = w.next_receive_info()?;
        let address = info.0.to_string();
        let verified = self.with_store(|s| {
            s.setting(&verified_key(account_id, &address))
                .map_err(|e| AppError::internal(e.to_string()))
        })?;
        Ok(ReceiveView {
            uri: format!("bitcoin:{address}"),
            address,
            index: info.1,
            verified: verified.is_some(),
            can_verify: !matches!(row.signer.as_str(), "watch" | "soft"),
            device_shows: self.device_form(&row, &info.0),
        })
    }

    /// Shows receive address `index` on the account's device and checks that the device shows
    /// the same address as the app; records that it was verified.
    pub fn btc_verify_address(&self, account_id: u32, index: u32) -> Result<ReceiveView, AppError> {
        self.btc_verify_address_on(account_id, index, None)
    }

    /// [`Self::btc_verify_address`] on a device named by id (the command line's `--device`).
    pub fn btc_verify_address_on(
        &self,
        account_id: u32,
        index: u32,
        device: Option<&str>,
    ) -> Result<ReceiveView, AppError> {
        let (row, network, acc) = self.btc_row(account_id)?;
        let ours = acc.address(false, index)?.to_string();
        let device = match row.signer.as_str() {
            "watch" | "soft" => {
                return Err(AppError::new(
                    ErrorKind::Unsupported,
                    "only a hardware wallet can show an address on its own screen",
                ))
            }
            fp => self.holder(fp, device)?,
        };
        let path = row
            .path
            .as_deref()
            .and_then(|p| bitcoin::bip32::DerivationPath::from_str(p).ok())
            .ok_or_else(|| AppError::internal("the account has no derivation path"))?;
        let account = match path.as_ref().last() {
            Some(bitcoin::bip32::ChildNumber::Hardened { index }) => *index,
            _ => {
                return Err(AppError::internal(
                    "the account path does not end in an account",
                ))
            }
        };
        let shown = self.btc_address(&device, acc.kind, network, account, false, index, true)?;
        if shown != ours {
            return Err(AppError::new(
                ErrorKind::DeviceError,
                format!("the device showed {shown}, but this account's address is {ours}: do not use either, and check the account"),
            ));
        }
        self.with_store(|s| {
            s.set_setting(
                &verified_key(account_id, &ours),
                &crate::prices::now().to_string(),
            )
            .map_err(|e| AppError::internal(e.to_string()))
        })?;
        Ok(ReceiveView {
            uri: format!("bitcoin:{ours}"),
            address: ours,
            index,
            verified: true,
            can_verify: true,
            device_shows: self.device_form(&row, &acc.address(false, index)?),
        })
    }

    /// The device holding the keys of fingerprint `fp`: the one named (checked), or the
    /// connected one with that fingerprint.
    fn holder(&self, fp: &str, device: Option<&str>) -> Result<String, AppError> {
        let Some(d) = device else {
            return self.device_by_fingerprint(fp);
        };
        let got = self.master_fingerprint(d)?;
        if got != fp {
            return Err(AppError::new(
                ErrorKind::NotFound,
                format!(
                    "this device (fingerprint {got}) does not hold this account (fingerprint {fp})"
                ),
            ));
        }
        Ok(d.to_owned())
    }

    /// The address as the account's device writes it, when that differs from ours.
    fn device_form(&self, row: &AccountRow, address: &bitcoin::Address) -> Option<String> {
        if row.network.as_deref() != Some("regtest") {
            return None;
        }
        let ledger = self.devices().list().devices.iter().any(|d| {
            d.vendor == coldlink_types::Vendor::Ledger
                && d.fingerprint.is_some_and(|f| f.to_string() == row.signer)
        });
        ledger.then(|| {
            bitcoin::Address::from_script(&address.script_pubkey(), Network::Testnet)
                .map(|a| a.to_string())
                .unwrap_or_default()
        })
    }

    /// Builds a send for review. `fee` is "slow", "normal", "fast" or a sat/vB number;
    /// `send_max_to` sends everything (after `recipients`) there; `coins` picks the coins
    /// (txid:vout) to spend.
    pub fn btc_prepare_send(
        &self,
        account_id: u32,
        recipients: &[RecipientInput],
        send_max_to: Option<&str>,
        fee: &str,
        coins: &[String],
    ) -> Result<BtcReview, AppError> {
        let (row, network, mut w) = self.open_wallet(account_id)?;
        let mut req = SendRequest {
            fee_rate: self.fee_rate(network, fee)?,
            frozen: self.frozen_coins(),
            ..Default::default()
        };
        for r in recipients {
            let address = parse_address(&r.address, network)?;
            let amount = match r.unit.to_ascii_lowercase().as_str() {
                "sats" | "sat" => parse_amount(&r.amount, Unit::Sats)?,
                "btc" | "" => parse_amount(&r.amount, Unit::Btc)?,
                u if u == "fiat" || u == self.currency().to_ascii_lowercase() => {
                    self.fiat_to_sats(&r.amount)?
                }
                other => return Err(AppError::invalid(format!("unknown unit “{other}”"))),
            };
            req.recipients.push((address, amount));
        }
        if let Some(to) = send_max_to.filter(|t| !t.trim().is_empty()) {
            req.send_max_to = Some(parse_address(to, network)?);
        }
        for c in coins {
            req.coins.push(
                OutPoint::from_str(c.trim())
                    .map_err(|_| AppError::invalid(format!("“{c}” is not a coin (txid:vout)")))?,
            );
        }
        let draft = w.build_send(&req)?;
        self.keep_draft(row, network, draft, "send")
    }

    /// A replacement of unconfirmed send `txid` at `fee` (RBF), for review.
    pub fn btc_bump_fee(
        &self,
        account_id: u32,
        txid: &str,
        fee: &str,
    ) -> Result<BtcReview, AppError> {
        let (row, network, mut w) = self.open_wallet(account_id)?;
        let txid = parse_txid(txid)?;
        let draft = w.bump_fee(txid, self.fee_rate(network, fee)?)?;
        self.keep_draft(row, network, draft, "fee bump")
    }

    /// A child spending this account's outputs of stuck incoming `txid` so that both confirm
    /// at `fee` (CPFP), for review.
    pub fn btc_cpfp(&self, account_id: u32, txid: &str, fee: &str) -> Result<BtcReview, AppError> {
        let (row, network, mut w) = self.open_wallet(account_id)?;
        let txid = parse_txid(txid)?;
        let node = self.node(network)?;
        let (parent_fee, parent_vsize) = node.unconfirmed_fee(&w, txid)?.ok_or_else(|| {
            AppError::invalid(
                "this transaction is not waiting in the mempool (already confirmed, or never seen)",
            )
        })?;
        let draft = w.cpfp(txid, parent_fee, parent_vsize, self.fee_rate(network, fee)?)?;
        self.keep_draft(row, network, draft, "CPFP")
    }

    /// An amount typed in the user's currency, at the current bitcoin price, in whole sats
    /// (rounded down: never more than typed). Refused without a price rather than guessed.
    fn fiat_to_sats(&self, text: &str) -> Result<Amount, AppError> {
        use coldlink_prices::Decimal;
        let t = text.trim().replace(['_', ','], "");
        let value = Decimal::from_str(&t)
            .ok()
            .filter(|v| *v > Decimal::ZERO)
            .ok_or_else(|| AppError::invalid(format!("“{}” is not an amount", text.trim())))?;
        let p = self.spot_price("bitcoin").ok_or_else(|| {
            AppError::new(
                ErrorKind::Disconnected,
                "no bitcoin price is known right now: enter the amount in BTC or sats",
            )
        })?;
        let price = Decimal::from_str(&p.price)
            .ok()
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(|| AppError::internal("unusable price"))?;
        let sats = (value * Decimal::from(100_000_000u64) / price).floor();
        let sats: u64 = sats
            .normalize()
            .to_string()
            .parse()
            .map_err(|_| AppError::invalid("the amount is too large"))?;
        if sats == 0 {
            return Err(AppError::invalid("the amount is less than one satoshi"));
        }
        Ok(Amount::from_sat(sats))
    }

    fn fee_rate(&self, network: Network, fee: &str) -> Result<u64, AppError> {
        let f = fee.trim().to_ascii_lowercase();
        if let Ok(n) = f.trim_end_matches("sat/vb").trim().parse::<u64>() {
            return Ok(n);
        }
        let est = self.node(network)?.fee_estimates()?;
        Ok(match f.as_str() {
            "slow" => est.slow,
            "normal" | "" => est.normal,
            "fast" => est.fast,
            _ => {
                return Err(AppError::invalid(format!(
                    "“{fee}” is not a fee: use slow, normal, fast or a number of sat/vB"
                )))
            }
        })
    }

    fn keep_draft(
        &self,
        row: AccountRow,
        network: Network,
        draft: Draft,
        what: &'static str,
    ) -> Result<BtcReview, AppError> {
        let r = &draft.review;
        let fiat = |a: Amount| self.fiat_text("bitcoin", u128::from(a.to_sat()), 8);
        let max_share_bp = self.setting_u64("btc.fee_warning_bp").unwrap_or(500);
        let max_fee = self
            .setting_u64("btc.fee_warning_sats")
            .map(Amount::from_sat);
        let mut d = self.btc_drafts.0.lock().unwrap_or_else(|p| p.into_inner());
        d.0 += 1;
        let id = d.0;
        let review = BtcReview {
            id,
            kind: what.into(),
            outputs: r
                .outputs
                .iter()
                .map(|o| BtcOutputView {
                    address: o.address.clone(),
                    amount: btc_text(o.amount),
                    sats: o.amount.to_sat().to_string(),
                    change: o.change,
                    fiat: fiat(o.amount),
                })
                .collect(),
            inputs: r.inputs.len() as u32,
            fee: btc_text(r.fee),
            fee_sats: r.fee.to_sat().to_string(),
            fee_fiat: fiat(r.fee),
            fee_rate: format!("{}.{}", r.fee_rate_decis / 10, r.fee_rate_decis % 10),
            fee_share: if r.fee_share_bp == 0 && r.fee > Amount::ZERO {
                "< 0.01 %".into()
            } else {
                format!("{}.{:02} %", r.fee_share_bp / 100, r.fee_share_bp % 100)
            },
            warning: r.fee_warning(max_share_bp, max_fee),
            rbf: r.rbf,
            signer_name: row.signer_name.clone(),
            can_sign: row.signer != "watch",
            network: network.to_string(),
        };
        d.1.insert(
            id,
            Pending {
                account_id: row.id,
                network,
                draft,
                what,
            },
        );
        Ok(review)
    }

    /// The fee-warning thresholds (default: 5 %, no absolute limit).
    pub fn btc_fee_warning(&self) -> FeeWarningSettings {
        let bp = self.setting_u64("btc.fee_warning_bp").unwrap_or(500);
        let share_percent = if bp.is_multiple_of(100) {
            (bp / 100).to_string()
        } else {
            format!("{}.{:02}", bp / 100, bp % 100)
                .trim_end_matches('0')
                .to_owned()
        };
        FeeWarningSettings {
            share_percent,
            max_fee_sats: self
                .setting_u64("btc.fee_warning_sats")
                .map(|s| s.to_string())
                .unwrap_or_default(),
        }
    }

    /// Sets the fee-warning thresholds: a share from 0.01 to 100 percent (two decimals at
    /// most) and an optional absolute fee in whole sats.
    pub fn btc_set_fee_warning(
        &self,
        w: &FeeWarningSettings,
    ) -> Result<FeeWarningSettings, AppError> {
        use coldlink_prices::Decimal;
        let share = w.share_percent.trim().trim_end_matches('%').trim();
        let bp = Decimal::from_str(share)
            .ok()
            .filter(|d| d.scale() <= 2 && *d > Decimal::ZERO && *d <= Decimal::from(100))
            .and_then(|d| {
                (d * Decimal::from(100))
                    .normalize()
                    .to_string()
                    .parse::<u64>()
                    .ok()
            })
            .ok_or_else(|| {
                AppError::invalid(format!(
                    "“{share}” is not a share between 0.01 and 100 percent"
                ))
            })?;
        let sats = w.max_fee_sats.trim().replace(['_', ','], "");
        let sats = if sats.is_empty() {
            String::new()
        } else {
            sats.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    AppError::invalid(format!(
                        "“{}” is not a whole number of sats above zero (leave it empty for no limit)",
                        w.max_fee_sats.trim()
                    ))
                })?
                .to_string()
        };
        self.with_store(|s| {
            let e = |e: coldlink_store::StoreError| AppError::internal(e.to_string());
            s.set_setting("btc.fee_warning_bp", &bp.to_string())
                .map_err(e)?;
            s.set_setting("btc.fee_warning_sats", &sats).map_err(e)
        })?;
        Ok(self.btc_fee_warning())
    }

    pub(crate) fn setting_u64(&self, key: &str) -> Option<u64> {
        self.with_store(|s| {
            s.setting(key)
                .map_err(|e| AppError::internal(e.to_string()))
        })
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
    }

    fn take_draft(&self, id: u32) -> Result<Pending, AppError> {
        self.btc_drafts
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .remove(&id)
            .ok_or_else(|| {
                AppError::new(
                    ErrorKind::NotFound,
                    "this review has expired: review the transaction again",
                )
            })
    }

    /// Reviews an unsigned PSBT made elsewhere (or exported earlier) that spends this
    /// account's coins, so that its signed copy can be checked against it and broadcast.
    pub fn btc_review_psbt(&self, account_id: u32, unsigned: &[u8]) -> Result<BtcReview, AppError> {
        let psbt = coldlink_btc::send::parse_psbt(unsigned)?;
        let (row, network, w) = self.open_wallet(account_id)?;
        let review = w.review(&psbt)?;
        self.keep_draft(row, network, Draft { psbt, review }, "PSBT")
    }

    /// The unsigned PSBT of review `id`, base64, for an air-gapped signer. The review stays
    /// open for the signed PSBT to come back.
    pub fn btc_export_psbt(&self, id: u32) -> Result<String, AppError> {
        let d = self.btc_drafts.0.lock().unwrap_or_else(|p| p.into_inner());
        d.1.get(&id)
            .map(|p| p.draft.psbt.to_string())
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "this review has expired"))
    }

    /// The unsigned PSBT of review `id` in the binary BIP174 file format.
    pub(crate) fn btc_psbt_bytes(&self, id: u32) -> Result<Vec<u8>, AppError> {
        let d = self.btc_drafts.0.lock().unwrap_or_else(|p| p.into_inner());
        d.1.get(&id)
            .map(|p| p.draft.psbt.serialize())
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "this review has expired"))
    }

    /// Takes the signed PSBT of review `id` back (base64 text or binary file contents), checks
    /// it against the review and broadcasts it.
    pub fn btc_import_psbt(&self, id: u32, signed: &[u8]) -> Result<BtcSent, AppError> {
        let signed = coldlink_btc::send::parse_psbt(signed)?;
        let p = self.take_draft(id)?;
        let r = self.finish_and_broadcast(&p, "PSBT import", Ok(signed));
        if r.is_err() {
            // A wrong file should not cost the user the review.
            self.btc_drafts
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .1
                .insert(id, p);
        }
        r
    }

    /// Signs review `id` on the account's signer (the device shows the same outputs and fee),
    /// checks the result, broadcasts it and records it in the journal.
    pub fn btc_confirm_send(&self, id: u32) -> Result<BtcSent, AppError> {
        self.btc_confirm_send_on(id, None)
    }

    /// [`Self::btc_confirm_send`] on a device named by id (the command line's `--device`),
    /// which must hold the account's keys.
    pub fn btc_confirm_send_on(&self, id: u32, device: Option<&str>) -> Result<BtcSent, AppError> {
        let p = self.take_draft(id)?;
        let row = self
            .with_store(|s| {
                s.account(p.account_id)
                    .map_err(|e| AppError::internal(e.to_string()))
            })?
            .ok_or_else(|| AppError::new(ErrorKind::NotFound, "the account is gone"))?;
        let (who, signed) = match row.signer.as_str() {
            "watch" => {
                return Err(AppError::new(
                    ErrorKind::Unsupported,
                    "a watch-only account cannot sign: export the PSBT to your signer",
                ))
            }
            "soft" => {
                let mut psbt = p.draft.psbt.clone();
                let ui = self.interaction();
                let r = self
                    .with_soft_wallet(|w| Ok(w.sign_psbt(&mut psbt, ui.as_ref())?))
                    .map(|_| psbt);
                ("Software wallet".to_owned(), r)
            }
            fp => {
                let r = self.holder(fp, device).and_then(|dev| {
                    self.btc_sign_psbt_inner(&dev, p.network, p.draft.psbt.clone())
                        .and_then(|s| {
                            Psbt::from_str(&s.psbt).map_err(|e| AppError::internal(e.to_string()))
                        })
                });
                (format!("{} ({fp})", row.signer_name), r)
            }
        };
        self.finish_and_broadcast(&p, &who, signed)
    }

    fn finish_and_broadcast(
        &self,
        p: &Pending,
        who: &str,
        signed: Result<Psbt, AppError>,
    ) -> Result<BtcSent, AppError> {
        let r = &p.draft.review;
        let review = json!({
            "kind": p.what,
            "outputs": r.outputs.iter().map(|o| json!({
                "address": o.address, "sats": o.amount.to_sat(), "change": o.change
            })).collect::<Vec<_>>(),
            "feeSats": r.fee.to_sat(),
            "feeRateSatVb": format!("{}.{}", r.fee_rate_decis / 10, r.fee_rate_decis % 10),
            "rbf": r.rbf,
        });
        let chain = network_key(p.network);
        let account = format!("account {}", p.account_id);
        let result = (|| {
            let signed = signed?;
            let id = u32::try_from(p.account_id).map_err(|_| AppError::internal("id"))?;
            let (_, _, mut w) = self.open_wallet(id)?;
            let tx = w.finish(&p.draft, &signed)?;
            let node = self.node(p.network)?;
            let txid = node.broadcast(&tx).map_err(|e| {
                AppError::new(
                    ErrorKind::Disconnected,
                    format!(
                        "Signed, not broadcast: {}",
                        crate::error::capitalise(&e.to_string())
                    ),
                )
            })?;
            let _ = w.record_broadcast(tx, crate::prices::now().max(0) as u64);
            Ok(txid)
        })();
        match result {
            Ok(txid) => {
                let t = txid.to_string();
                self.journal(who, &account, &chain, &review, "broadcast", Some(&t));
                self.demo_mine_block();
                let _ = self.btc_sync(p.network);
                Ok(BtcSent { txid: t })
            }
            Err(e) => {
                self.journal(
                    who,
                    &account,
                    &chain,
                    &review,
                    &crate::journal::outcome_of(&e),
                    None,
                );
                Err(e)
            }
        }
    }
}

fn verified_key(account_id: u32, address: &str) -> String {
    format!("btc.verified.{account_id}.{address}")
}

fn parse_txid(t: &str) -> Result<Txid, AppError> {
    Txid::from_str(t.trim())
        .map_err(|_| AppError::invalid(format!("“{}” is not a transaction id", t.trim())))
}
