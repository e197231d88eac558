//! The rows the store reads and writes, as plain values.

use serde::{Deserialize, Serialize};

/// A transfer from or to one of the accounts: a token's (EVM event log) or the native coin's
/// (from a node that indexes addresses; `token` is "native", `log_index` -1 for the
/// transaction's own value, lower for value moved inside it by contracts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRow {
    /// Network key.
    pub network: String,
    /// Transaction hash.
    pub tx_hash: String,
    /// Position of the event in its block.
    pub log_index: i64,
    /// Token contract.
    pub token: String,
    /// Sender.
    pub from_addr: String,
    /// Recipient.
    pub to_addr: String,
    /// Base units, decimal text (exact).
    pub units: String,
    /// Block number.
    pub block: i64,
    /// Block time, unix seconds, when known.
    #[serde(default)]
    pub time: Option<i64>,
    /// Fee paid by the sender in wei (decimal text), on a native row the account sent.
    #[serde(default)]
    pub fee: Option<String>,
}

/// A hardware wallet seen at least once with its fingerprint readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRow {
    /// Master-key fingerprint, 8 hex digits.
    pub fingerprint: String,
    /// Maker ("ledger", "trezor", …).
    pub vendor: String,
    /// "Ledger Nano X".
    pub model_name: String,
    /// An emulator or simulator.
    pub emulated: bool,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A label on a transaction, address or output (BIP329 record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelRow {
    /// BIP329 type: tx, addr, output, input, pubkey, xpub.
    pub kind: String,
    /// What it labels (txid, address, txid:vout, …).
    pub reference: String,
    /// The label.
    pub label: String,
    /// Outputs only: false when the user froze the coin.
    pub spendable: Option<bool>,
}

/// One cached balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceRow {
    /// The account.
    pub account_id: i64,
    /// Network key.
    pub network: String,
    /// "native" or the token contract.
    pub asset: String,
    /// Ticker.
    pub symbol: String,
    /// Decimal places.
    pub decimals: u8,
    /// Base units, decimal text (exact).
    pub units: String,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An account the user added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// "evm" or "bitcoin".
    pub chain: String,
    /// Who signs: a master fingerprint, "soft" for the software wallet, "watch" for watch-only.
    pub signer: String,
    /// The signer's name when added ("Ledger Nano X", "Software wallet").
    pub signer_name: String,
    /// The user's label.
    pub label: String,
    /// Address (EVM) or descriptor (Bitcoin).
    pub address: String,
    /// Derivation path, if the signer holds the key.
    pub path: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The network, for accounts tied to one (Bitcoin: main, testnet4, signet, regtest).
    #[serde(default)]
    pub network: Option<String>,
}

/// A send made from the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRow {
    /// Transaction hash.
    pub hash: String,
    /// Network key.
    pub network: String,
    /// The sending account, if still present.
    pub account_id: Option<i64>,
    /// The review shown and signed, as JSON.
    pub review: String,
    /// "pending", "confirmed", "failed".
    pub status: String,
    /// Block, once mined.
    pub block: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Fee paid in wei (decimal text), from the receipt.
    #[serde(default)]
    pub fee_paid: Option<String>,
}

/// What the user typed, as exported before migrations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    /// Schema version it was read from.
    pub schema_version: u32,
    /// Accounts.
    pub accounts: Vec<AccountRow>,
    /// Settings.
    pub settings: Vec<(String, String)>,
    /// User networks (JSON bodies).
    pub evm_networks: Vec<(String, String)>,
    /// User tokens: (network, address, symbol, decimals).
    pub evm_tokens: Vec<(String, String, String, i64)>,
    /// Labels and frozen coins (absent in exports from before schema 6).
    #[serde(default)]
    pub labels: Vec<LabelRow>,
}

/// One transaction of a Bitcoin account that is a single watched address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressTxRow {
    /// Txid.
    pub txid: String,
    /// Block height, when confirmed.
    pub height: Option<i64>,
    /// Block time, unix seconds, when confirmed.
    pub time: Option<i64>,
    /// Satoshis paid to the address.
    pub received: i64,
    /// Satoshis spent from it.
    pub sent: i64,
    /// Fee in satoshis, when the address paid it.
    pub fee: Option<i64>,
}
