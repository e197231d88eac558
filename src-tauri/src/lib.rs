//! Coldlink's desktop shell: registers commands and events and maps every outcome to the
//! typed `AppError`. No business logic lives here: each command is a call into
//! `coldlink_app` run off the UI thread, so a panic inside a service becomes an `internal`
//! error for that one call instead of taking the window down.

use std::{sync::Mutex, time::Duration};

use coldlink_app::{
    parse_chain, parse_kind, BtcAccountView, BtcBalanceView, BtcCoinView, BtcReview, BtcSent,
    BtcTxView, FeeWarningSettings, KnownDeviceView, NodeSettings, NodeStatusView, ReceiveView,
    RecipientInput, SaveRequest, SavedFile, SyncProgress, TransferView,
};
use coldlink_app::{
    AppError, AppInfo, Catalogue, Coldlink, CreatedWallet, DemoDevice, DemoModeView, DemoScreen,
    DeviceList, DevicePrompt, DeviceWatch, EvmAccountView, EvmNetworkView, JournalView, NewPhrase,
    PortfolioView, SendReview, SendView, Support, TokenAmountView, ValuePoint, WalletStatus,
};
use coldlink_types::Sensitive;
use serde::Serialize;
use tauri::{Manager, State};
use tauri_specta::{collect_commands, collect_events, Event};

/// How often the device list is refreshed; the UI shows changes within this plus a scan.
const DEVICE_POLL: Duration = Duration::from_millis(500);

/// Sent whenever the set of connected devices changes.
#[derive(Clone, Debug, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct DevicesChanged {
    /// The new list.
    pub list: DeviceList,
}

/// Runs a service call on the blocking pool; a panic in it becomes an `internal` error.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|_| {
        AppError::internal(
            "Coldlink hit an internal error; the operation was not completed. Please report it.",
        )
    })?
}

#[tauri::command]
#[specta::specta]
async fn app_info(app: State<'_, Coldlink>) -> Result<AppInfo, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.info())).await
}

#[tauri::command]
#[specta::specta]
async fn list_devices(app: State<'_, Coldlink>) -> Result<DeviceList, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.list_devices())).await
}

/// Every hardware wallet seen before (by fingerprint), whether connected now, and how many
/// accounts each signs for.
#[tauri::command]
#[specta::specta]
async fn known_devices(app: State<'_, Coldlink>) -> Result<Vec<KnownDeviceView>, AppError> {
    let app = app.inner().clone();
    blocking(move || {
        let now = app.devices().list();
        app.known_devices(&now)
    })
    .await
}

/// Starts the simulated demo Ledger; it then appears in the device list.
#[tauri::command]
#[specta::specta]
async fn start_demo_device(app: State<'_, Coldlink>) -> Result<DemoDevice, AppError> {
    let app = app.inner().clone();
    blocking(move || app.start_demo()).await
}

/// Stops the demo Ledger.
#[tauri::command]
#[specta::specta]
async fn stop_demo_device(app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || {
        app.stop_demo();
        Ok(())
    })
    .await
}

/// The device catalogue, every fact with its source.
#[tauri::command]
#[specta::specta]
async fn device_catalogue(app: State<'_, Coldlink>) -> Result<Catalogue, AppError> {
    let app = app.inner().clone();
    blocking(move || app.catalogue()).await
}

/// Coldlink's support per catalogue model, computed by exercising each driver.
#[tauri::command]
#[specta::specta]
async fn device_support(
    app: State<'_, Coldlink>,
) -> Result<std::collections::BTreeMap<String, Support>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.support()).await
}

/// The EVM networks.
#[tauri::command]
#[specta::specta]
async fn evm_networks(app: State<'_, Coldlink>) -> Result<Vec<EvmNetworkView>, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.evm_network_views())).await
}

/// Adds an EVM network by RPC URL (its node must serve the chain id).
#[tauri::command]
#[specta::specta]
async fn evm_add_network(
    name: String,
    rpc_url: String,
    chain_id: String,
    symbol: String,
    app: State<'_, Coldlink>,
) -> Result<EvmNetworkView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_add_network(&name, &rpc_url, &chain_id, &symbol)).await
}

/// Points a built-in EVM network at another RPC URL.
#[tauri::command]
#[specta::specta]
async fn evm_set_rpc(
    network: String,
    rpc_url: String,
    app: State<'_, Coldlink>,
) -> Result<EvmNetworkView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_set_rpc(&network, &rpc_url)).await
}

/// EVM accounts with balances on a network.
#[tauri::command]
#[specta::specta]
async fn evm_accounts(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Vec<EvmAccountView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_accounts(&network)).await
}

/// Adds an EVM account from a device id, "soft" or "watch".
#[tauri::command]
#[specta::specta]
async fn evm_add_account(
    signer: String,
    index: u32,
    layout: String,
    address: Option<String>,
    label: String,
    app: State<'_, Coldlink>,
) -> Result<EvmAccountView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_add_account(&signer, index, &layout, address.as_deref(), &label)).await
}

/// Removes an EVM account.
#[tauri::command]
#[specta::specta]
async fn evm_remove_account(id: u32, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_remove_account(id)).await
}

/// Adds an ERC-20 token (checked against the node).
#[tauri::command]
#[specta::specta]
async fn evm_add_token(
    network: String,
    contract: String,
    app: State<'_, Coldlink>,
) -> Result<TokenAmountView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_add_token(&network, &contract)).await
}

/// Prepares a transfer for review.
#[tauri::command]
#[specta::specta]
async fn evm_prepare_send(
    network: String,
    account: u32,
    to: String,
    amount: String,
    token: Option<String>,
    fee: String,
    app: State<'_, Coldlink>,
) -> Result<SendReview, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_prepare_send(&network, account, &to, &amount, token.as_deref(), &fee))
        .await
}

/// Signs (on the device) and broadcasts the reviewed transfer.
#[tauri::command]
#[specta::specta]
async fn evm_confirm_send(review: u32, app: State<'_, Coldlink>) -> Result<SendView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_confirm_send(review)).await
}

/// A send's status now.
#[tauri::command]
#[specta::specta]
async fn evm_send_status(
    network: String,
    hash: String,
    app: State<'_, Coldlink>,
) -> Result<String, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_send_status(&network, &hash, Duration::ZERO)).await
}

/// The sends made from the app.
#[tauri::command]
#[specta::specta]
async fn evm_sends(network: String, app: State<'_, Coldlink>) -> Result<Vec<SendView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_sends(&network)).await
}

/// Transfers to and from the accounts: tokens from the node's logs, the native coin where
/// the node indexes addresses (read at each refresh).
#[tauri::command]
#[specta::specta]
async fn evm_transfers(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Vec<TransferView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_transfers(&network)).await
}

/// Whether the network's node lists native-coin payments (it indexes addresses); null before
/// the first refresh.
#[tauri::command]
#[specta::specta]
async fn evm_lists_native(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Option<bool>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.evm_lists_native(&network)).await
}

/// The portfolio on a network, from the cache (instant).
#[tauri::command]
#[specta::specta]
async fn portfolio(network: String, app: State<'_, Coldlink>) -> Result<PortfolioView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.portfolio(&network)).await
}

/// Reads balances from the network into the portfolio's cache.
#[tauri::command]
#[specta::specta]
async fn portfolio_refresh(network: String, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.portfolio_refresh(&network)).await
}

/// Value over the last `days`.
#[tauri::command]
#[specta::specta]
async fn portfolio_history(
    network: String,
    days: u32,
    app: State<'_, Coldlink>,
) -> Result<Vec<ValuePoint>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.portfolio_history(&network, days)).await
}

/// Sets the fiat currency (USD, EUR, GBP, CHF, JPY).
#[tauri::command]
#[specta::specta]
async fn set_currency(currency: String, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.set_currency(&currency)).await
}

/// What the user must be told about the local database at start-up (damaged and rebuilt).
#[tauri::command]
#[specta::specta]
async fn store_notice(app: State<'_, Coldlink>) -> Result<Option<String>, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.store_notice())).await
}

/// Demo mode's state.
#[tauri::command]
#[specta::specta]
async fn demo_mode(app: State<'_, Coldlink>) -> Result<DemoModeView, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.demo_mode())).await
}

/// Starts demo mode: simulated devices, a local chain with funded accounts, demo prices.
#[tauri::command]
#[specta::specta]
async fn start_demo_mode(app: State<'_, Coldlink>) -> Result<DemoModeView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.start_demo_mode()).await
}

/// Leaves demo mode; everything it started stops.
#[tauri::command]
#[specta::specta]
async fn stop_demo_mode(app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || {
        app.stop_demo_mode();
        Ok(())
    })
    .await
}

/// The signing journal, newest first.
#[tauri::command]
#[specta::specta]
async fn journal_entries(app: State<'_, Coldlink>) -> Result<Vec<JournalView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.journal_entries()).await
}

/// Checks the journal's hash chain.
#[tauri::command]
#[specta::specta]
async fn journal_verify(app: State<'_, Coldlink>) -> Result<u32, AppError> {
    let app = app.inner().clone();
    blocking(move || app.journal_verify()).await
}

/// What the simulated demo devices' screens show now.
#[tauri::command]
#[specta::specta]
async fn demo_screens(app: State<'_, Coldlink>) -> Result<Vec<DemoScreen>, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.demo_screens())).await
}

/// Reads a device's master fingerprint; on a locked Trezor this is how it is unlocked (the
/// PIN question arrives through `device_prompt`).
#[tauri::command]
#[specta::specta]
async fn device_fingerprint(id: String, app: State<'_, Coldlink>) -> Result<String, AppError> {
    let app = app.inner().clone();
    blocking(move || app.master_fingerprint(&id)).await
}

/// What a running device operation waits for (confirm, PIN matrix, passphrase), if anything.
#[tauri::command]
#[specta::specta]
async fn device_prompt(app: State<'_, Coldlink>) -> Result<Option<DevicePrompt>, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.device_prompt())).await
}

/// Answers a PIN matrix with clicked positions (never digits).
#[tauri::command]
#[specta::specta]
async fn answer_pin_matrix(positions: String, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    let positions = Sensitive::new(positions);
    blocking(move || app.answer_pin_matrix(positions.expose())).await
}

/// Answers a passphrase request (`null`: type it on the device).
#[tauri::command]
#[specta::specta]
async fn answer_passphrase(
    passphrase: Option<String>,
    app: State<'_, Coldlink>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.answer_passphrase(passphrase)).await
}

/// Cancels the PIN or passphrase question.
#[tauri::command]
#[specta::specta]
async fn cancel_device_prompt(app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.cancel_device_prompt()).await
}

/// The software wallet's state.
#[tauri::command]
#[specta::specta]
async fn wallet_status(app: State<'_, Coldlink>) -> Result<WalletStatus, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.wallet_status())).await
}

/// A new recovery phrase for the backup screen (the one time words go to the UI).
#[tauri::command]
#[specta::specta]
async fn wallet_new_phrase(words: u32, app: State<'_, Coldlink>) -> Result<NewPhrase, AppError> {
    let app = app.inner().clone();
    blocking(move || app.wallet_new_phrase(words)).await
}

/// Confirms the backup and creates the wallet; returns the first receive address.
#[tauri::command]
#[specta::specta]
async fn wallet_create(
    answers: Vec<String>,
    passphrase: String,
    password: String,
    use_keyring: bool,
    app: State<'_, Coldlink>,
) -> Result<CreatedWallet, AppError> {
    let app = app.inner().clone();
    let (passphrase, password) = (Sensitive::new(passphrase), Sensitive::new(password));
    blocking(move || app.wallet_create(&answers, &passphrase, &password, use_keyring)).await
}

/// Restores from a recovery phrase; returns the first receive address.
#[tauri::command]
#[specta::specta]
async fn wallet_restore(
    phrase: String,
    passphrase: String,
    password: String,
    use_keyring: bool,
    app: State<'_, Coldlink>,
) -> Result<CreatedWallet, AppError> {
    let app = app.inner().clone();
    let (phrase, passphrase, password) = (
        Sensitive::new(phrase),
        Sensitive::new(passphrase),
        Sensitive::new(password),
    );
    blocking(move || app.wallet_restore(&phrase, &passphrase, &password, use_keyring)).await
}

/// Unlocks with the password, or with the OS keyring when none is given.
#[tauri::command]
#[specta::specta]
async fn wallet_unlock(password: Option<String>, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    let password = password.map(Sensitive::new);
    blocking(move || app.wallet_unlock(password.as_ref())).await
}

/// Changes the software wallet's password.
#[tauri::command]
#[specta::specta]
async fn wallet_change_password(
    current: String,
    replacement: String,
    app: State<'_, Coldlink>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    let (current, replacement) = (Sensitive::new(current), Sensitive::new(replacement));
    blocking(move || app.wallet_change_password(&current, &replacement)).await
}

/// Deletes the software wallet (password and the typed word "delete" required).
#[tauri::command]
#[specta::specta]
async fn wallet_delete(
    password: String,
    confirm: String,
    app: State<'_, Coldlink>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    let password = Sensitive::new(password);
    blocking(move || app.wallet_delete(&password, &confirm)).await
}

/// Sets how many idle minutes lock the software wallet (1 to 1440).
#[tauri::command]
#[specta::specta]
async fn wallet_set_auto_lock(minutes: u32, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.wallet_set_auto_lock_minutes(minutes)).await
}

/// Locks the software wallet now.
#[tauri::command]
#[specta::specta]
async fn wallet_lock(app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || {
        app.wallet_lock();
        Ok(())
    })
    .await
}

/// The software wallet's first receive address.
#[tauri::command]
#[specta::specta]
async fn wallet_receive_address(app: State<'_, Coldlink>) -> Result<String, AppError> {
    let app = app.inner().clone();
    blocking(move || app.wallet_receive_address()).await
}

/// Completions and corrections for one recovery-phrase word.
#[tauri::command]
#[specta::specta]
async fn wallet_suggest(word: String, app: State<'_, Coldlink>) -> Result<Vec<String>, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.wallet_suggest(&word))).await
}

/// The UI reports that `page` has rendered; logged with the time since start for the
/// start-up benchmark.
#[tauri::command]
#[specta::specta]
async fn frontend_ready(page: String, started: State<'_, Started>) -> Result<(), AppError> {
    let page: String = page
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    eprintln!(
        "coldlink: first render of {page} after {} ms",
        started.0.elapsed().as_millis()
    );
    Ok(())
}

/// When the process started, for the start-up figure.
struct Started(std::time::Instant);

/// Keeps the device watcher alive for the app's lifetime.
struct Watch(#[allow(dead_code)] Mutex<Option<DeviceWatch>>);

/// WebKitGTK's GPU compositing costs ~70 MiB for a UI that needs none (measured: see the
/// start-up benchmark). Turning it off per webview, rather than through the
/// `WEBKIT_DISABLE_DMABUF_RENDERER` variable, gives the same saving and keeps WebKit's
/// snapshot API working (which WebDriver screenshots need).
fn lean_webview<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    if std::env::var_os("COLDLINK_GPU").is_none() {
        let _ = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// The Bitcoin accounts of a network (main, test, signet, regtest).
#[tauri::command]
#[specta::specta]
async fn btc_accounts(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Vec<BtcAccountView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_accounts(parse_chain(&network)?)).await
}

/// Adds a Bitcoin account: signer is a device id, "soft" or "watch" (with `watch`).
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)]
async fn btc_add_account(
    signer: String,
    kind: String,
    network: String,
    index: u32,
    watch: Option<String>,
    label: String,
    app: State<'_, Coldlink>,
) -> Result<BtcAccountView, AppError> {
    let app = app.inner().clone();
    blocking(move || {
        app.btc_add_account(
            &signer,
            parse_kind(&kind)?,
            parse_chain(&network)?,
            index,
            watch.as_deref(),
            &label,
        )
    })
    .await
}

/// The node a network syncs from (without its password).
#[tauri::command]
#[specta::specta]
async fn btc_node(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Option<NodeSettings>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_node(parse_chain(&network)?)).await
}

/// Tests and keeps the node of a network.
#[tauri::command]
#[specta::specta]
async fn btc_set_node(
    network: String,
    settings: NodeSettings,
    app: State<'_, Coldlink>,
) -> Result<NodeStatusView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_set_node(parse_chain(&network)?, settings)).await
}

/// Syncs every account of a network.
#[tauri::command]
#[specta::specta]
async fn btc_sync(
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Vec<BtcBalanceView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_sync(parse_chain(&network)?)).await
}

/// The next unused receive address of an account.
#[tauri::command]
#[specta::specta]
async fn btc_receive(account: u32, app: State<'_, Coldlink>) -> Result<ReceiveView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_receive(account)).await
}

/// Shows a receive address on the account's device and records the check.
#[tauri::command]
#[specta::specta]
async fn btc_verify_address(
    account: u32,
    index: u32,
    app: State<'_, Coldlink>,
) -> Result<ReceiveView, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_verify_address(account, index)).await
}

/// Builds a Bitcoin send for review.
#[tauri::command]
#[specta::specta]
async fn btc_prepare_send(
    account: u32,
    recipients: Vec<RecipientInput>,
    send_max_to: Option<String>,
    fee: String,
    coins: Vec<String>,
    app: State<'_, Coldlink>,
) -> Result<BtcReview, AppError> {
    let app = app.inner().clone();
    blocking(move || {
        app.btc_prepare_send(account, &recipients, send_max_to.as_deref(), &fee, &coins)
    })
    .await
}

/// A fee bump (RBF) of an unconfirmed send, or with `cpfp` a child for a stuck payment.
#[tauri::command]
#[specta::specta]
async fn btc_bump(
    account: u32,
    txid: String,
    fee: String,
    cpfp: bool,
    app: State<'_, Coldlink>,
) -> Result<BtcReview, AppError> {
    let app = app.inner().clone();
    blocking(move || {
        if cpfp {
            app.btc_cpfp(account, &txid, &fee)
        } else {
            app.btc_bump_fee(account, &txid, &fee)
        }
    })
    .await
}

/// Signs the reviewed transaction on its signer, checks and broadcasts it.
#[tauri::command]
#[specta::specta]
async fn btc_confirm_send(review: u32, app: State<'_, Coldlink>) -> Result<BtcSent, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_confirm_send(review)).await
}

/// The unsigned PSBT of a review, base64.
#[tauri::command]
#[specta::specta]
async fn btc_export_psbt(review: u32, app: State<'_, Coldlink>) -> Result<String, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_export_psbt(review)).await
}

/// When a Bitcoin review warns about the fee.
#[tauri::command]
#[specta::specta]
async fn btc_fee_warning(app: State<'_, Coldlink>) -> Result<FeeWarningSettings, AppError> {
    let app = app.inner().clone();
    blocking(move || Ok(app.btc_fee_warning())).await
}

/// Sets when a Bitcoin review warns about the fee (checked; the saved values come back).
#[tauri::command]
#[specta::specta]
async fn btc_set_fee_warning(
    settings: FeeWarningSettings,
    app: State<'_, Coldlink>,
) -> Result<FeeWarningSettings, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_set_fee_warning(&settings)).await
}

/// Saves a PSBT, CSV export or the labels into the downloads folder; says where.
#[tauri::command]
#[specta::specta]
async fn save_file(req: SaveRequest, app: State<'_, Coldlink>) -> Result<SavedFile, AppError> {
    let app = app.inner().clone();
    blocking(move || app.save_file(&req)).await
}

/// A signed PSBT (base64) for a review: checked against it, then broadcast.
#[tauri::command]
#[specta::specta]
async fn btc_import_psbt(
    review: u32,
    psbt: String,
    app: State<'_, Coldlink>,
) -> Result<BtcSent, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_import_psbt(review, psbt.as_bytes())).await
}

/// Makes a demo device reject its next confirmation.
#[tauri::command]
#[specta::specta]
async fn demo_reject_next(device: String, app: State<'_, Coldlink>) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.demo_reject_next(&device)).await
}

/// An account's transactions, newest first.
#[tauri::command]
#[specta::specta]
async fn btc_history(account: u32, app: State<'_, Coldlink>) -> Result<Vec<BtcTxView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_history(account)).await
}

/// An account's coins, for coin control.
#[tauri::command]
#[specta::specta]
async fn btc_coins(account: u32, app: State<'_, Coldlink>) -> Result<Vec<BtcCoinView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_coins(account)).await
}

/// Labels a transaction, address or coin (BIP329 type and reference).
#[tauri::command]
#[specta::specta]
async fn btc_set_label(
    kind: String,
    reference: String,
    label: String,
    app: State<'_, Coldlink>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_set_label(&kind, &reference, &label)).await
}

/// Freezes or unfreezes a coin.
#[tauri::command]
#[specta::specta]
async fn btc_freeze(
    outpoint: String,
    frozen: bool,
    app: State<'_, Coldlink>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_freeze(&outpoint, frozen)).await
}

/// Every label as BIP329 JSON Lines.
#[tauri::command]
#[specta::specta]
async fn btc_export_labels(app: State<'_, Coldlink>) -> Result<String, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_export_labels()).await
}

/// Imports BIP329 JSON Lines; returns how many records were taken.
#[tauri::command]
#[specta::specta]
async fn btc_import_labels(text: String, app: State<'_, Coldlink>) -> Result<u32, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_import_labels(&text)).await
}

/// How far the running Bitcoin sync is.
#[tauri::command]
#[specta::specta]
fn btc_sync_progress(app: State<'_, Coldlink>) -> Option<SyncProgress> {
    app.btc_sync_progress()
}

/// Account discovery: adds the signer's accounts of a kind while they have history.
#[tauri::command]
#[specta::specta]
async fn btc_discover_accounts(
    signer: String,
    kind: String,
    network: String,
    app: State<'_, Coldlink>,
) -> Result<Vec<BtcAccountView>, AppError> {
    let app = app.inner().clone();
    blocking(move || app.btc_discover_accounts(&signer, parse_kind(&kind)?, parse_chain(&network)?))
        .await
}

/// The command and event registry; also what generates `ui/src/lib/api/bindings.ts`.
pub fn specta_builder<R: tauri::Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .disable_serde_phases()
        .commands(collect_commands![
            app_info,
            list_devices,
            known_devices,
            start_demo_device,
            stop_demo_device,
            demo_screens,
            device_catalogue,
            portfolio,
            portfolio_refresh,
            portfolio_history,
            set_currency,
            store_notice,
            demo_mode,
            start_demo_mode,
            stop_demo_mode,
            journal_entries,
            journal_verify,
            evm_networks,
            evm_add_network,
            evm_set_rpc,
            evm_accounts,
            evm_add_account,
            evm_remove_account,
            evm_add_token,
            evm_prepare_send,
            evm_confirm_send,
            evm_send_status,
            evm_sends,
            evm_transfers,
            evm_lists_native,
            btc_accounts,
            btc_add_account,
            btc_node,
            btc_set_node,
            btc_sync,
            btc_receive,
            btc_verify_address,
            btc_prepare_send,
            btc_bump,
            btc_confirm_send,
            btc_export_psbt,
            btc_import_psbt,
            save_file,
            btc_fee_warning,
            btc_set_fee_warning,
            demo_reject_next,
            btc_history,
            btc_coins,
            btc_set_label,
            btc_freeze,
            btc_export_labels,
            btc_import_labels,
            btc_sync_progress,
            btc_discover_accounts,
            device_support,
            device_fingerprint,
            device_prompt,
            answer_pin_matrix,
            answer_passphrase,
            cancel_device_prompt,
            wallet_status,
            wallet_new_phrase,
            wallet_create,
            wallet_restore,
            wallet_unlock,
            wallet_lock,
            wallet_set_auto_lock,
            wallet_change_password,
            wallet_delete,
            wallet_receive_address,
            wallet_suggest,
            frontend_ready
        ])
        .events(collect_events![DevicesChanged])
}

/// Builds and runs the app; returns when the window closes.
pub fn run() {
    let started = Started(std::time::Instant::now());
    // GTK would panic deep inside the windowing layer; say what is wrong instead.
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "coldlink: no display (neither DISPLAY nor WAYLAND_DISPLAY is set): start Coldlink \
             from a desktop session, or with ./scripts/run, which starts Xvfb when there is none"
        );
        std::process::exit(1);
    }
    let services = match Coldlink::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("coldlink: {e}");
            std::process::exit(2);
        }
    };
    let builder = specta_builder::<tauri::Wry>();
    // Whatever demo mode started is stopped when the window closes.
    let at_exit = services.clone();
    if std::env::var("COLDLINK_DEMO").is_ok_and(|v| v == "1") {
        let s = services.clone();
        std::thread::spawn(move || {
            if let Err(e) = s.start_demo_mode() {
                eprintln!("coldlink: demo mode could not start: {}", e.message);
            }
        });
    }
    let result = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .manage(started)
        .manage(services)
        .setup(move |app| {
            builder.mount_events(app);
            if let Some(window) = app.get_webview_window("main") {
                lean_webview(&window);
            }
            let handle = app.handle().clone();
            let services = app.state::<Coldlink>().inner().clone();
            let device_service = services.devices().clone();
            let watch = device_service.watch(DEVICE_POLL, move |list| {
                services.record_devices(list);
                let _ = DevicesChanged { list: list.clone() }.emit(&handle);
            });
            app.manage(Watch(Mutex::new(Some(watch))));
            Ok(())
        })
        .run(tauri::generate_context!());
    at_exit.stop_demo_mode();
    if let Err(e) = result {
        eprintln!("coldlink: the window could not start: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/api/bindings.ts");

    fn export() -> String {
        let dir = std::env::temp_dir().join(format!("coldlink-bindings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bindings.ts");
        specta_builder::<tauri::Wry>()
            .export(
                specta_typescript::Typescript::default().header("// Generated from Rust by tauri-specta: do not edit. Regenerate with UPDATE_BINDINGS=1 cargo test -p coldlink-desktop bindings.\n"),
                &path,
            )
            .expect("export bindings");
        let text = std::fs::read_to_string(&path).expect("read bindings");
        let _ = std::fs::remove_dir_all(&dir);
        text
    }

    /// Fails when the Rust commands/types and the checked-in TypeScript drift apart.
    #[test]
    fn bindings_are_current() {
        let fresh = export();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(BINDINGS, &fresh).expect("write bindings");
        }
        let checked_in = std::fs::read_to_string(BINDINGS).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "ui/src/lib/api/bindings.ts is out of date: run UPDATE_BINDINGS=1 cargo test -p coldlink-desktop bindings"
        );
    }

    #[test]
    fn a_panicking_service_call_becomes_an_internal_error() {
        let r: Result<(), AppError> =
            tauri::async_runtime::block_on(blocking(|| panic!("service bug")));
        let e = r.expect_err("panic must be reported");
        assert_eq!(e.kind, coldlink_app::ErrorKind::Internal);
        assert!(!e.message.contains("service bug"), "no internals leak");
    }

    #[test]
    fn malformed_arguments_are_rejected_without_panicking() {
        let app = tauri::test::mock_builder()
            .invoke_handler(specta_builder().invoke_handler())
            .manage(Started(std::time::Instant::now()))
            .manage(Coldlink::new(Default::default()))
            .build(tauri::test::mock_context(tauri::test::noop_assets()))
            .expect("mock app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("webview");
        let call = |cmd: &str, body: serde_json::Value| {
            tauri::test::get_ipc_response(
                &webview,
                tauri::webview::InvokeRequest {
                    cmd: cmd.into(),
                    callback: tauri::ipc::CallbackFn(0),
                    error: tauri::ipc::CallbackFn(1),
                    url: "tauri://localhost".parse().expect("url"),
                    body: tauri::ipc::InvokeBody::Json(body),
                    headers: Default::default(),
                    invoke_key: tauri::test::INVOKE_KEY.to_string(),
                },
            )
        };
        assert!(call("frontend_ready", serde_json::json!({ "page": 5 })).is_err());
        assert!(call("frontend_ready", serde_json::json!({})).is_err());
        assert!(call("frontend_ready", serde_json::json!({ "page": "devices" })).is_ok());
        let devices = call("list_devices", serde_json::json!({})).expect("list");
        let list: serde_json::Value = devices.deserialize().expect("json");
        assert!(
            list["devices"].is_array() && list["warnings"].is_array(),
            "{list}"
        );
    }
}
