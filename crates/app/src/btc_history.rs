//! A Bitcoin account's transactions (confirmations, net amount, fee, label) and coins (for coin
//! control: label, frozen or not), and labels kept as BIP329 records — exported and imported
//! as BIP329 JSON Lines so they move between wallets. Freezing a coin is the BIP329 output
//! record's `spendable: false`.

use serde::{Deserialize, Serialize};

use crate::{AppError, Coldlink, ErrorKind};
use coldlink_store::{AddressTxRow, LabelRow};

/// One transaction in an account's history.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcTxView {
    /// Txid.
    pub txid: String,
    /// Confirmations (0: in the mempool).
    pub confirmations: u32,
    /// Block time or first seen (unix seconds).
    pub time: Option<u32>,
    /// Net effect on the account in BTC, signed ("-0.1", "0.5").
    pub net: String,
    /// Fee in sats, when known.
    pub fee_sats: Option<String>,
    /// The user's label.
    pub label: Option<String>,
    /// Unconfirmed and replaceable: "Bump fee" is offered.
    pub replaceable: bool,
    /// Unconfirmed and paying this account: "Speed up (CPFP)" is offered.
    pub incoming_unconfirmed: bool,
}

/// A coin for coin control.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BtcCoinView {
    /// txid:vout.
    pub outpoint: String,
    /// Amount in BTC.
    pub amount: String,
    /// Address holding it.
    pub address: String,
    /// Change.
    pub change: bool,
    /// Confirmed.
    pub confirmed: bool,
    /// Frozen by the user (never spent automatically).
    pub frozen: bool,
    /// The user's label.
    pub label: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Bip329 {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spendable: Option<bool>,
}

const KINDS: [&str; 6] = ["tx", "addr", "pubkey", "input", "output", "xpub"];

fn signed_btc(sats: i64) -> String {
    let text = crate::btc_send::btc_text(bitcoin::Amount::from_sat(sats.unsigned_abs()));
    if sats < 0 {
        format!("-{text}")
    } else {
        text
    }
}

impl Coldlink {
    /// The kept history of an account that is one watched address, with its network; `None`
    /// for any other account.
    pub(crate) fn address_txs(
        &self,
        account_id: u32,
    ) -> Result<Option<(bitcoin::Network, Vec<AddressTxRow>)>, AppError> {
        let e = |x: coldlink_store::StoreError| AppError::internal(x.to_string());
        let Some(row) = self.with_store(|s| s.account(i64::from(account_id)).map_err(e))? else {
            return Ok(None);
        };
        let Some(network) = row
            .network
            .as_deref()
            .and_then(|n| n.parse::<bitcoin::Network>().ok())
            .filter(|_| row.chain == "bitcoin")
        else {
            return Ok(None);
        };
        if !matches!(
            coldlink_btc::parse_watch(&row.address, network, None),
            Ok(coldlink_btc::Watched::Address(_))
        ) {
            return Ok(None);
        }
        let rows = self.with_store(|s| s.address_txs(row.id).map_err(e))?;
        Ok(Some((network, rows)))
    }

    fn label_rows(&self) -> Result<Vec<LabelRow>, AppError> {
        self.with_store(|s| s.labels().map_err(|e| AppError::internal(e.to_string())))
    }

    /// The transactions of an account, newest first, as of its last sync.
    pub fn btc_history(&self, account_id: u32) -> Result<Vec<BtcTxView>, AppError> {
        if let Some((network, rows)) = self.address_txs(account_id)? {
            let on_node = self
                .btc_node(network)?
                .is_some_and(|n| !matches!(n.kind.as_str(), "electrum" | "esplora"));
            if rows.is_empty() && on_node {
                return Err(AppError::new(
                    ErrorKind::Unsupported,
                    "a node does not index addresses, so it gives this address's balance but not its transactions: set an Electrum or Esplora server for them",
                ));
            }
            let labels = self.label_rows()?;
            let tip = self.btc_tip(network);
            return Ok(rows
                .into_iter()
                .map(|r| {
                    let net = r.received.saturating_sub(r.sent);
                    BtcTxView {
                        label: labels
                            .iter()
                            .find(|l| l.kind == "tx" && l.reference == r.txid)
                            .map(|l| l.label.clone()),
                        confirmations: r
                            .height
                            .and_then(|h| u32::try_from(h).ok())
                            .map_or(0, |h| tip.saturating_sub(h) + 1),
                        time: r.time.and_then(|t| u32::try_from(t).ok()),
                        net: signed_btc(net),
                        fee_sats: r.fee.map(|f| f.to_string()),
                        // Nobody here holds its key: nothing to bump or speed up.
                        replaceable: false,
                        incoming_unconfirmed: false,
                        txid: r.txid,
                    }
                })
                .collect());
        }
        let (_, _, w) = self.open_wallet(account_id)?;
        let labels = self.label_rows()?;
        let label = |r: &str| {
            labels
                .iter()
                .find(|l| l.kind == "tx" && l.reference == r)
                .map(|l| l.label.clone())
        };
        Ok(w.history()
            .into_iter()
            .map(|e| {
                let txid = e.txid.to_string();
                BtcTxView {
                    label: label(&txid),
                    confirmations: e.confirmations,
                    time: e.time.and_then(|t| u32::try_from(t).ok()),
                    net: signed_btc(e.net_sats),
                    fee_sats: e.fee.map(|f| f.to_sat().to_string()),
                    replaceable: e.replaceable && e.net_sats < 0,
                    incoming_unconfirmed: e.confirmations == 0 && e.net_sats > 0,
                    txid,
                }
            })
            .collect())
    }

    /// The coins of an account, with labels and frozen state.
    pub fn btc_coins(&self, account_id: u32) -> Result<Vec<BtcCoinView>, AppError> {
        let (_, _, w) = self.open_wallet(account_id)?;
        let labels = self.label_rows()?;
        Ok(w.coins()
            .into_iter()
            .map(|c| {
                let op = c.outpoint.to_string();
                let l = labels
                    .iter()
                    .find(|l| l.kind == "output" && l.reference == op);
                BtcCoinView {
                    amount: crate::btc_send::btc_text(c.amount),
                    address: c.address,
                    change: c.change,
                    confirmed: c.confirmed,
                    frozen: l.is_some_and(|l| l.spendable == Some(false)),
                    label: l.map(|l| l.label.clone()).filter(|t| !t.is_empty()),
                    outpoint: op,
                }
            })
            .collect())
    }

    /// The outpoints the user froze (never spent unless picked by hand).
    pub(crate) fn frozen_coins(&self) -> Vec<bitcoin::OutPoint> {
        self.label_rows()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.kind == "output" && l.spendable == Some(false))
            .filter_map(|l| l.reference.parse().ok())
            .collect()
    }

    /// Labels a transaction ("tx", txid), address ("addr") or coin ("output", txid:vout); an
    /// empty label removes it (a coin's frozen state stays).
    pub fn btc_set_label(&self, kind: &str, reference: &str, label: &str) -> Result<(), AppError> {
        if !KINDS.contains(&kind) {
            return Err(AppError::invalid(format!(
                "“{kind}” is not a label type (tx, addr, output, input, pubkey, xpub)"
            )));
        }
        let spendable = self
            .label_rows()?
            .into_iter()
            .find(|l| l.kind == kind && l.reference == reference)
            .and_then(|l| l.spendable);
        self.with_store(|s| {
            s.set_label(&LabelRow {
                kind: kind.into(),
                reference: reference.trim().into(),
                label: label.trim().into(),
                spendable,
            })
            .map_err(|e| AppError::internal(e.to_string()))
        })
    }

    /// Freezes (or unfreezes) a coin: frozen coins are only spent when picked by hand.
    pub fn btc_freeze(&self, outpoint: &str, frozen: bool) -> Result<(), AppError> {
        let op: bitcoin::OutPoint = outpoint
            .trim()
            .parse()
            .map_err(|_| AppError::invalid(format!("“{outpoint}” is not a coin (txid:vout)")))?;
        let reference = op.to_string();
        let label = self
            .label_rows()?
            .into_iter()
            .find(|l| l.kind == "output" && l.reference == reference)
            .map(|l| l.label)
            .unwrap_or_default();
        self.with_store(|s| {
            s.set_label(&LabelRow {
                kind: "output".into(),
                reference,
                label,
                spendable: if frozen { Some(false) } else { None },
            })
            .map_err(|e| AppError::internal(e.to_string()))
        })
    }

    /// Every label as BIP329 JSON Lines.
    pub fn btc_export_labels(&self) -> Result<String, AppError> {
        let mut out = String::new();
        for l in self.label_rows()? {
            let rec = Bip329 {
                kind: l.kind,
                reference: l.reference,
                label: (!l.label.is_empty()).then_some(l.label),
                spendable: l.spendable,
            };
            out.push_str(
                &serde_json::to_string(&rec).map_err(|e| AppError::internal(e.to_string()))?,
            );
            out.push('\n');
        }
        Ok(out)
    }

    /// Imports BIP329 JSON Lines; returns how many records were taken. A line that is not a
    /// BIP329 record stops the import before anything is written, naming the line.
    pub fn btc_import_labels(&self, text: &str) -> Result<u32, AppError> {
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: Bip329 = serde_json::from_str(line).map_err(|e| {
                AppError::new(
                    ErrorKind::InvalidInput,
                    format!("line {} is not a BIP329 label record: {e}", n + 1),
                )
            })?;
            if !KINDS.contains(&r.kind.as_str()) {
                return Err(AppError::invalid(format!(
                    "line {}: unknown label type “{}”",
                    n + 1,
                    r.kind
                )));
            }
            rows.push(LabelRow {
                kind: r.kind,
                reference: r.reference,
                label: r.label.unwrap_or_default(),
                spendable: r.spendable,
            });
        }
        self.with_store(|s| {
            for r in &rows {
                s.set_label(r)
                    .map_err(|e| AppError::internal(e.to_string()))?;
            }
            Ok(())
        })?;
        Ok(rows.len() as u32)
    }
}
