//! `coldlink`: every Coldlink capability from a terminal, over the same application services
//! the desktop app uses. `--json` output is for scripts; errors exit 1 with the service's
//! message (and, with `--json`, its stable `kind`); usage errors exit 2.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use coldlink_app::{parse_chain, parse_kind, AppError, Coldlink, DeviceList, EvmTxRequest};
use serde_json::json;

mod btc;
mod hwi;
mod terminal;

const ETH_PATH: &str = "m/44'/60'/0'/0/0";

#[derive(Parser)]
#[command(name = "coldlink", version, about = "Coldlink hardware-wallet tool")]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which device to use.
#[derive(Args)]
pub(crate) struct Select {
    /// Device id from `coldlink devices` (hid:…, speculos:HOST:PORT) or sim:ledger (demo).
    #[arg(long, conflicts_with = "fingerprint")]
    device: Option<String>,
    /// Master fingerprint of a connected device (8 hex digits).
    #[arg(long)]
    fingerprint: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// List connected hardware wallets and live emulator endpoints.
    Devices,
    /// Every hardware wallet seen before (by fingerprint): model, last seen, connected now,
    /// accounts it signs for.
    KnownDevices,
    /// Print a device's BIP32 master fingerprint.
    Fingerprint(#[command(flatten)] Select),
    /// Print the extended public key at a derivation path.
    Xpub {
        #[command(flatten)]
        select: Select,
        /// Derivation path, e.g. m/84'/0'/0'.
        #[arg(long)]
        path: String,
        /// Show it on the device for checking.
        #[arg(long)]
        display: bool,
    },
    /// Bitcoin: default single-signature wallets (pkh, sh-wpkh, wpkh, tr).
    #[command(subcommand)]
    Btc(Btc),
    /// Ethereum and EVM chains.
    #[command(subcommand)]
    Eth(Eth),
    /// EVM accounts on a network: balances, sending, following a transaction.
    #[command(subcommand)]
    Evm(Evm),
    /// The signing journal: every signing request and how it ended, hash-chained.
    #[command(subcommand)]
    Journal(Journal),
    /// CSV exports (columns in the README): `transactions` or `portfolio` of a network.
    Export {
        /// What: transactions or portfolio.
        what: String,
        /// Networks, comma-separated: EVM keys (local, ethereum, …) and bitcoin:<chain>
        /// (bitcoin:bitcoin, bitcoin:regtest, …).
        #[arg(long, default_value = "ethereum")]
        network: String,
    },
    /// HWI-compatible interface, for Bitcoin Core's `-signer="coldlink hwi"`.
    Hwi {
        /// HWI options and command, e.g. `--fingerprint 73c5da0a --chain main getdescriptors`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum Btc {
    /// Print (and with --display, show on the device) an address of a default wallet.
    Address {
        #[command(flatten)]
        select: Select,
        /// Script type: wpkh, tr, sh-wpkh or pkh.
        #[arg(long, default_value = "wpkh")]
        kind: String,
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
        /// Account number.
        #[arg(long, default_value_t = 0)]
        account: u32,
        /// The change chain instead of the receive chain.
        #[arg(long)]
        change: bool,
        /// Address index.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Show it on the device and wait for the user to confirm it matches.
        #[arg(long)]
        display: bool,
    },
    /// Sign a PSBT (base64, or @file with base64 or binary); prints the signed PSBT in base64.
    SignPsbt {
        #[command(flatten)]
        select: Select,
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
        /// The PSBT.
        psbt: String,
    },
    /// Print the default wallets' output descriptors for an account (JSON).
    Descriptors {
        #[command(flatten)]
        select: Select,
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
        /// Account number.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Add a Bitcoin account kept by the app: from a device (--device/--fingerprint), the
    /// software wallet (--soft) or, with --watch, a pasted xpub/ypub/zpub, descriptor or address.
    AddAccount {
        #[command(flatten)]
        select: Select,
        /// Watch this key, descriptor or address instead.
        #[arg(long, conflicts_with_all = ["device", "fingerprint"])]
        watch: Option<String>,
        /// wpkh (default), tr, sh-wpkh or pkh.
        #[arg(long, default_value = "wpkh")]
        kind: String,
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
        /// Account number.
        #[arg(long, default_value_t = 0)]
        account: u32,
        /// Label.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Account discovery: add the signer's accounts 0, 1, … of a kind while they have history.
    Discover {
        #[command(flatten)]
        select: Select,
        /// Use the software wallet.
        #[arg(long)]
        soft: bool,
        /// wpkh (default), tr, sh-wpkh or pkh.
        #[arg(long, default_value = "wpkh")]
        kind: String,
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
    },
    /// The Bitcoin accounts kept by the app on a network.
    Accounts {
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
    },
    /// Set (after a connection test) the Bitcoin Core / Knots node a network syncs from.
    Node {
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
        /// RPC address, e.g. http://127.0.0.1:8332; with --electrum, tcp://host:port or
        /// ssl://host:port.
        #[arg(long)]
        url: String,
        /// The address is an Electrum server's.
        #[arg(long, conflicts_with = "esplora")]
        electrum: bool,
        /// The address is an Esplora HTTP API's.
        #[arg(long)]
        esplora: bool,
        /// The node's .cookie file (preferred over user/password).
        #[arg(long, default_value = "")]
        cookie: String,
        /// rpcuser.
        #[arg(long, default_value = "")]
        user: String,
        /// rpcpassword. Visible to other users in the process list and kept in shell
        /// history: prefer the environment variable COLDLINK_NODE_PASSWORD.
        #[arg(long, default_value = "")]
        password: String,
    },
    /// Sync every account of a network from its node; prints balances.
    Sync {
        /// main, test, signet or regtest.
        #[arg(long, default_value = "main")]
        chain: String,
    },
    /// The next unused receive address of an account.
    Receive {
        #[command(flatten)]
        select: Select,
        /// Account id (see `btc accounts`).
        #[arg(long)]
        account: u32,
        /// Show it on the account's device and check it matches.
        #[arg(long)]
        verify_on_device: bool,
    },
    /// Send: review, sign on the account's signer, check, broadcast. With --psbt-out, stop
    /// before signing and write the unsigned PSBT (base64) for an air-gapped signer.
    Send {
        #[command(flatten)]
        select: Select,
        /// Account id.
        #[arg(long)]
        account: u32,
        /// Recipient address (repeat with --amount for several).
        #[arg(long)]
        to: Vec<String>,
        /// Amount for each --to, in BTC (or sats with --sats, your currency with --fiat).
        #[arg(long)]
        amount: Vec<String>,
        /// Amounts are in satoshis.
        #[arg(long, conflicts_with = "fiat")]
        sats: bool,
        /// Amounts are in your currency, at the current price (rounded down to whole sats).
        #[arg(long)]
        fiat: bool,
        /// Send everything left to this address (send max).
        #[arg(long)]
        max_to: Option<String>,
        /// slow, normal, fast or sat/vB.
        #[arg(long, default_value = "normal")]
        fee: String,
        /// Spend exactly these coins (txid:vout), repeatable.
        #[arg(long)]
        coin: Vec<String>,
        /// Write the unsigned PSBT here and stop.
        #[arg(long)]
        psbt_out: Option<String>,
    },
    /// Replace an unconfirmed send with a higher fee (RBF), or with --cpfp pull a stuck
    /// incoming payment through with a child; then sign and broadcast like `send`.
    Bump {
        #[command(flatten)]
        select: Select,
        /// Account id.
        #[arg(long)]
        account: u32,
        /// The transaction.
        #[arg(long)]
        txid: String,
        /// New fee rate: slow, normal, fast or sat/vB.
        #[arg(long)]
        fee: String,
        /// Child-pays-for-parent instead of replacing.
        #[arg(long)]
        cpfp: bool,
        /// Write the unsigned PSBT here and stop.
        #[arg(long)]
        psbt_out: Option<String>,
    },
    /// Check a signed PSBT against the unsigned one (both base64 or @file), finalise, verify
    /// and broadcast it.
    Finish {
        /// Account id.
        #[arg(long)]
        account: u32,
        /// The unsigned PSBT as exported.
        #[arg(long)]
        unsigned: String,
        /// The signed PSBT.
        #[arg(long)]
        signed: String,
    },
}

#[derive(Subcommand)]
enum Eth {
    /// Print the address at a path (EIP-55).
    Address {
        #[command(flatten)]
        select: Select,
        /// Derivation path.
        #[arg(long, default_value = ETH_PATH)]
        path: String,
        /// Show it on the device and wait for the user to confirm it matches.
        #[arg(long)]
        display: bool,
    },
    /// Sign a transaction described as JSON (or @file): chainId, nonce, to, value (wei),
    /// gasLimit, and maxFeePerGas/maxPriorityFeePerGas or gasPrice, optional data.
    SignTx {
        #[command(flatten)]
        select: Select,
        /// Derivation path of the sending account.
        #[arg(long, default_value = ETH_PATH)]
        path: String,
        /// The transaction request, as JSON or @path/to/file.json.
        #[arg(long)]
        tx: String,
    },
    /// Sign a text message (EIP-191 personal_sign).
    SignMessage {
        #[command(flatten)]
        select: Select,
        /// Derivation path.
        #[arg(long, default_value = ETH_PATH)]
        path: String,
        /// The message.
        #[arg(long)]
        message: String,
    },
}

#[derive(Subcommand)]
enum Journal {
    /// List the entries, newest first.
    List,
    /// Check the chain; names the first entry that was edited, removed or reordered.
    Verify,
}

/// Which EVM network.
#[derive(Args)]
struct NetArgs {
    /// A built-in network: ethereum, sepolia, arbitrum, optimism, base, polygon.
    #[arg(long)]
    network: Option<String>,
    /// RPC URL (overrides the built-in one, or with --chain-id defines a custom network).
    #[arg(long)]
    rpc: Option<String>,
    /// Chain id of a custom network; checked against the node.
    #[arg(long)]
    chain_id: Option<u64>,
}

impl NetArgs {
    fn choice(&self) -> coldlink_app::NetworkChoice {
        coldlink_app::NetworkChoice {
            key: self.network.clone(),
            rpc_url: self.rpc.clone(),
            chain_id: self.chain_id,
        }
    }
}

#[derive(Subcommand)]
enum Evm {
    /// The built-in networks.
    Networks,
    /// The EVM accounts added in the app, with balances on a network (by key: local, ethereum, …).
    Accounts {
        /// Network key.
        #[arg(long, default_value = "ethereum")]
        network: String,
    },
    /// Transfers to and from the accounts (token logs; native coin where the node indexes
    /// addresses), newest first.
    Transfers {
        /// Network key.
        #[arg(long, default_value = "ethereum")]
        network: String,
        /// Read new blocks first (as a portfolio refresh does).
        #[arg(long)]
        refresh: bool,
    },
    /// Native and token balances of accounts (one round trip to the node).
    Balance {
        #[command(flatten)]
        net: NetArgs,
        /// Account addresses.
        #[arg(long = "address", required = true)]
        addresses: Vec<String>,
        /// ERC-20 contract addresses.
        #[arg(long = "token")]
        tokens: Vec<String>,
    },
    /// Send the native coin or (with --token) an ERC-20 token, signed on a device.
    Send {
        #[command(flatten)]
        net: NetArgs,
        #[command(flatten)]
        select: Select,
        /// Derivation path of the sending account.
        #[arg(long, default_value = ETH_PATH)]
        path: String,
        /// Recipient.
        #[arg(long)]
        to: String,
        /// Amount in the coin's or token's unit ("0.5").
        #[arg(long)]
        amount: String,
        /// ERC-20 contract to send instead of the native coin.
        #[arg(long)]
        token: Option<String>,
        /// slow, normal or fast.
        #[arg(long, default_value = "normal")]
        fee: String,
        /// Seconds to wait for the receipt.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Whether a transaction is pending, confirmed or failed.
    Status {
        #[command(flatten)]
        net: NetArgs,
        /// Transaction hash.
        hash: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                println!("{}", json!({ "error": e }));
            } else {
                eprintln!("coldlink: {}", e.message);
            }
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn device(app: &Coldlink, s: &Select) -> Result<String, AppError> {
    match (&s.device, &s.fingerprint) {
        (Some(d), _) => Ok(d.clone()),
        (None, Some(fp)) => app.device_by_fingerprint(fp),
        (None, None) => Err(AppError::invalid(
            "choose a device with --device ID or --fingerprint FP (see `coldlink devices`)",
        )),
    }
}

/// Prints `value` as JSON under `key`, or as plain text.
fn emit(json: bool, key: &str, value: &str) {
    if json {
        println!("{}", json!({ key: value }));
    } else {
        println!("{value}");
    }
}

fn run(cli: &Cli) -> Result<(), AppError> {
    let app = Coldlink::from_env()?.with_interaction(std::sync::Arc::new(terminal::Terminal));
    match &cli.command {
        Command::KnownDevices => {
            let now = app.list_devices();
            let known = app.known_devices(&now)?;
            if cli.json {
                let text = serde_json::to_string_pretty(&known)
                    .map_err(|e| AppError::internal(e.to_string()))?;
                println!("{text}");
            } else if known.is_empty() {
                println!(
                    "No hardware wallet seen yet (one is remembered once its fingerprint is read)."
                );
            } else {
                for d in &known {
                    println!(
                        "{}  {}{}  last seen {}  {} account(s){}",
                        d.fingerprint,
                        d.model_name,
                        if d.emulated { " (emulator)" } else { "" },
                        d.last_seen
                            .parse()
                            .map(coldlink_app::utc_iso)
                            .unwrap_or_default(),
                        d.accounts,
                        if d.connected { "  connected" } else { "" }
                    );
                }
            }
        }
        Command::Devices => {
            let list = app.list_devices();
            if cli.json {
                let text = serde_json::to_string_pretty(&list)
                    .map_err(|e| AppError::internal(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", render_devices(&list));
            }
        }
        Command::Hwi { args } => println!("{}", hwi::run(&app, args)),
        Command::Btc(Btc::Address {
            select,
            kind,
            chain,
            account,
            change,
            index,
            display,
        }) => {
            let a = app.btc_address(
                &device(&app, select)?,
                parse_kind(kind)?,
                parse_chain(chain)?,
                *account,
                *change,
                *index,
                *display,
            )?;
            emit(cli.json, "address", &a)
        }
        Command::Btc(Btc::SignPsbt {
            select,
            chain,
            psbt,
        }) => {
            let bytes = match psbt.strip_prefix('@') {
                Some(file) => std::fs::read(file)
                    .map_err(|e| AppError::invalid(format!("cannot read {file}: {e}")))?,
                None => psbt.clone().into_bytes(),
            };
            let signed = app.btc_sign_psbt(&device(&app, select)?, parse_chain(chain)?, &bytes)?;
            if cli.json {
                println!("{}", json!(signed));
            } else {
                println!("{}", signed.psbt);
            }
        }
        Command::Btc(Btc::Descriptors {
            select,
            chain,
            account,
        }) => {
            let d = app.btc_descriptors(&device(&app, select)?, parse_chain(chain)?, *account)?;
            println!("{}", json!(d));
        }
        Command::Btc(Btc::AddAccount {
            select,
            watch,
            kind,
            chain,
            account,
            label,
        }) => {
            let signer = match watch {
                Some(_) => "watch".to_owned(),
                None => device(&app, select)?,
            };
            let a = app.btc_add_account(
                &signer,
                parse_kind(kind)?,
                parse_chain(chain)?,
                *account,
                watch.as_deref(),
                label,
            )?;
            if cli.json {
                println!("{}", json!(a));
            } else {
                println!("{}\t{}\t{}", a.label, a.first_address, a.descriptor);
            }
        }
        Command::Btc(Btc::Accounts { chain }) => {
            let list = app.btc_accounts(parse_chain(chain)?)?;
            if cli.json {
                println!("{}", json!(list));
            } else {
                for a in list {
                    println!(
                        "{}\t{}\t{}\t{}",
                        a.label, a.signer_name, a.first_address, a.descriptor
                    );
                }
            }
        }
        Command::Btc(cmd) => btc::run(&app, cli.json, cmd)?,
        Command::Fingerprint(s) => emit(
            cli.json,
            "fingerprint",
            &app.master_fingerprint(&device(&app, s)?)?,
        ),
        Command::Xpub {
            select,
            path,
            display,
        } => emit(
            cli.json,
            "xpub",
            &app.xpub(&device(&app, select)?, path, *display)?,
        ),
        Command::Eth(Eth::Address {
            select,
            path,
            display,
        }) => emit(
            cli.json,
            "address",
            &app.eth_address(&device(&app, select)?, path, *display)?,
        ),
        Command::Eth(Eth::SignTx { select, path, tx }) => {
            let text = match tx.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .map_err(|e| AppError::invalid(format!("cannot read {file}: {e}")))?,
                None => tx.clone(),
            };
            let req = EvmTxRequest::from_json(&text)?;
            let signed = app.eth_sign_transaction(&device(&app, select)?, path, &req)?;
            if cli.json {
                println!("{}", json!(signed));
            } else {
                println!("{}", signed.raw);
            }
        }
        Command::Export { what, network } => {
            let csv = match what.as_str() {
                "transactions" => app.export_transactions_csv(network)?,
                "portfolio" => app.export_portfolio_csv(network)?,
                other => {
                    return Err(AppError::invalid(format!(
                        "nothing called “{other}” to export: transactions or portfolio"
                    )))
                }
            };
            print!("{csv}");
        }
        Command::Journal(Journal::List) => {
            let list = app.journal_entries()?;
            if cli.json {
                println!("{}", json!(list));
            } else {
                for e in list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        e.seq,
                        e.at,
                        e.signer,
                        e.chain,
                        e.outcome,
                        e.txid.unwrap_or_default()
                    );
                }
            }
        }
        Command::Journal(Journal::Verify) => {
            let n = app.journal_verify()?;
            emit(cli.json, "intact", &format!("{n} entries intact"));
        }
        Command::Evm(Evm::Networks) => {
            let list = app.evm_networks();
            if cli.json {
                println!("{}", json!(list));
            } else {
                for n in list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        n.key, n.chain_id, n.symbol, n.name, n.rpc_url
                    );
                }
            }
        }
        Command::Evm(Evm::Transfers { network, refresh }) => {
            if *refresh {
                app.portfolio_refresh(network)?;
            }
            let list = app.evm_transfers(network)?;
            if cli.json {
                println!("{}", json!(list));
            } else {
                for t in list {
                    println!(
                        "{}\taccount {}\t{} {}\t{}\t{}",
                        t.block,
                        t.account_id,
                        if t.incoming { "received" } else { "sent" },
                        t.amount,
                        t.counterparty,
                        t.hash
                    );
                }
            }
        }
        Command::Evm(Evm::Accounts { network }) => {
            let list = app.evm_accounts(network)?;
            if cli.json {
                println!("{}", json!(list));
            } else {
                for a in list {
                    let bal = match (&a.balance, &a.balance_error) {
                        (Some(b), _) => format!("{b} {}", a.symbol),
                        (None, Some(e)) => format!("balance unavailable: {e}"),
                        _ => "-".into(),
                    };
                    println!("{}\t{}\t{}\t{bal}", a.address, a.label, a.signer_name);
                }
            }
        }
        Command::Evm(Evm::Balance {
            net,
            addresses,
            tokens,
        }) => {
            let network = app.evm_network(&net.choice())?;
            let list = app.evm_balances(&network, addresses, tokens)?;
            if cli.json {
                println!("{}", json!(list));
            } else {
                for b in list {
                    println!("{}\t{} {}", b.address, b.amount, b.symbol);
                    for t in b.tokens {
                        let amount = t.amount.unwrap_or_else(|| "unavailable".into());
                        println!("{}\t{} {}", b.address, amount, t.symbol);
                    }
                }
            }
        }
        Command::Evm(Evm::Send {
            net,
            select,
            path,
            to,
            amount,
            token,
            fee,
            wait,
        }) => {
            let network = app.evm_network(&net.choice())?;
            let dev = device(&app, select)?;
            let sent = app.evm_send(
                &network,
                &dev,
                path,
                to,
                amount,
                token.as_deref(),
                fee,
                std::time::Duration::from_secs(*wait),
            )?;
            if cli.json {
                println!("{}", json!(sent));
            } else {
                println!("{}\t{}", sent.hash, sent.status);
            }
        }
        Command::Evm(Evm::Status { net, hash }) => {
            let network = app.evm_network(&net.choice())?;
            emit(cli.json, "status", &app.evm_tx_status(&network, hash)?);
        }
        Command::Eth(Eth::SignMessage {
            select,
            path,
            message,
        }) => {
            let signed = app.eth_sign_message(&device(&app, select)?, path, message.as_bytes())?;
            if cli.json {
                println!("{}", json!(signed));
            } else {
                println!("{}", signed.signature);
            }
        }
    }
    Ok(())
}

fn render_devices(list: &DeviceList) -> String {
    let mut out = String::new();
    for w in &list.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if list.devices.is_empty() {
        out.push_str("No device connected.\n");
        out.push_str("On Linux, install the udev rules (see README) and re-plug the device.\n");
        return out;
    }
    for d in &list.devices {
        let state = format!("{:?}", d.state).to_lowercase();
        let app = d.app.as_deref().unwrap_or("-");
        let fp = d
            .fingerprint
            .map(|f| f.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            d.id, d.model_name, state, app, fp
        ));
    }
    out
}
