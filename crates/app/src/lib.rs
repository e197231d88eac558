//! Coldlink's application services: the use cases the desktop shell and the `coldlink` CLI
//! both call, with one error type whose `kind` is stable for UIs and scripts to branch on.
//!
//! Nothing here knows about Tauri; the shell is a few lines per command around these calls.

mod bitcoin_ops;
mod btc_accounts;
mod btc_history;
mod btc_send;
mod btc_sync;
mod compare;
mod config;
mod demo;
mod demo_mode;
mod devices;
mod error;
mod evm_accounts;
mod evm_ops;
mod evm_request;
mod evm_send;
mod evm_transfers;
mod export;
mod files;
mod hardware;
mod journal;
mod known_devices;
mod movements;
mod node_password;
mod portfolio;
mod prices;
mod prompts;
mod soft_wallet;

pub use bitcoin_ops::{parse_chain, parse_kind, parse_psbt, Descriptors, SignedPsbt};
pub use btc_accounts::BtcAccountView;
pub use btc_history::{BtcCoinView, BtcTxView};
pub use btc_send::{
    BtcOutputView, BtcReview, BtcSent, FeeWarningSettings, ReceiveView, RecipientInput,
};
pub use btc_sync::{BtcBalanceView, NodeSettings, NodeStatusView, SyncProgress};
pub use coldlink_catalogue::{Catalogue, Support};
pub use compare::{computed_support, CompareData};
pub use config::{
    AppConfig, EmulatorSetting, ENV_DATA_DIR, ENV_EVM_RPC, ENV_EXPORT_DIR, ENV_KEYRING,
    ENV_PRICES_URL, ENV_SPECULOS, ENV_TREZOR_EMULATOR,
};
pub use demo::{DemoDevice, DemoScreen, DEMO_NAME, DEMO_TREZOR_NAME, DEMO_TREZOR_PIN};
pub use demo_mode::DemoModeView;
pub use devices::{DeviceList, DeviceService, DeviceWatch};
pub use error::{AppError, ErrorKind};
pub use evm_accounts::{EvmAccountView, EvmNetworkView, TokenAmountView};
pub use evm_ops::{BalanceView, NetworkChoice, SentEvmTx, TokenBalanceView};
pub use evm_request::{parse_address, EvmTxRequest};
pub use evm_send::{SendReview, SendView};
pub use evm_transfers::{TransferView, FIRST_SCAN_BLOCKS};
pub use export::iso as utc_iso;
pub use files::{SaveRequest, SavedFile};
pub use hardware::{SignedEvmTx, SignedMessage, DEMO_MNEMONIC, TREZOR_DEMO_MNEMONIC};
pub use journal::JournalView;
pub use known_devices::KnownDeviceView;
pub use portfolio::{AccountSlice, AssetLine, PortfolioView, SignerSlice, ValuePoint};
pub use prices::{PriceView, DEFAULT_PRICES_URL};
pub use prompts::DevicePrompt;
pub use soft_wallet::{CreatedWallet, NewPhrase, WalletStatus};

use serde::Serialize;

/// What the About/Settings pages show about this build and its configuration.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// Coldlink's version.
    pub version: String,
    /// Emulator endpoints being watched.
    pub emulators: Vec<EmulatorSetting>,
}

/// The services, built once at start-up from configuration.
#[derive(Clone, Debug)]
pub struct Coldlink {
    config: AppConfig,
    devices: DeviceService,
    demo: demo::DemoSlot,
    soft: soft_wallet::SoftSlot,
    prompts: prompts::Prompts,
    store: evm_accounts::StoreSlot,
    pending_sends: evm_send::PendingSends,
    btc_drafts: btc_send::BtcDrafts,
    btc_progress: btc_sync::ProgressSlot,
    demo_mode: demo_mode::DemoModeSlot,
    /// Who answers devices' questions; the UI's prompt slot unless replaced (the CLI asks on
    /// its terminal).
    interaction: Option<Ui>,
}

#[derive(Clone)]
struct Ui(std::sync::Arc<dyn coldlink_signer::Interaction>);

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interaction")
    }
}

impl Coldlink {
    /// Builds the services from a configuration.
    pub fn new(config: AppConfig) -> Self {
        let devices = DeviceService::new(config.emulator_endpoints());
        Self {
            config,
            devices,
            demo: demo::DemoSlot::default(),
            soft: soft_wallet::SoftSlot::default(),
            prompts: prompts::Prompts::default(),
            store: Default::default(),
            pending_sends: Default::default(),
            btc_drafts: Default::default(),
            btc_progress: Default::default(),
            demo_mode: Default::default(),
            interaction: None,
        }
    }

    /// Has `ui` answer devices' questions (PIN matrix, passphrase) instead of the UI's prompt
    /// slot.
    pub fn with_interaction(
        mut self,
        ui: std::sync::Arc<dyn coldlink_signer::Interaction>,
    ) -> Self {
        self.interaction = Some(Ui(ui));
        self
    }

    /// Who answers devices' questions now.
    pub(crate) fn interaction(&self) -> std::sync::Arc<dyn coldlink_signer::Interaction> {
        match &self.interaction {
            Some(ui) => std::sync::Arc::clone(&ui.0),
            None => std::sync::Arc::new(self.prompts.clone()),
        }
    }

    /// Builds the services from the process environment (see [`AppConfig::from_env`]).
    pub fn from_env() -> Result<Self, AppError> {
        Ok(Self::new(AppConfig::from_env()?))
    }

    /// About this build.
    pub fn info(&self) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            emulators: self.config.emulators.clone(),
        }
    }

    /// Device discovery.
    pub fn devices(&self) -> &DeviceService {
        &self.devices
    }
}
