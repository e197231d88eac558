//! `coldlink btc node|sync|receive|send|bump|finish`: Bitcoin accounts from the command line,
//! over the same services as the window. A send prints its review on stderr before the
//! signer is asked; the device's own screen is where it is approved.

use coldlink_app::{
    parse_chain, parse_kind, AppError, BtcReview, Coldlink, NodeSettings, RecipientInput,
};
use serde_json::json;

use crate::{device, Btc};

fn read_arg(text: &str) -> Result<Vec<u8>, AppError> {
    match text.strip_prefix('@') {
        Some(file) => {
            std::fs::read(file).map_err(|e| AppError::invalid(format!("cannot read {file}: {e}")))
        }
        None => Ok(text.as_bytes().to_vec()),
    }
}

fn print_review(r: &BtcReview) {
    eprintln!("Review ({}, {}):", r.kind, r.network);
    for o in &r.outputs {
        let tag = if o.change { " (change)" } else { "" };
        eprintln!("  {} BTC → {}{tag}", o.amount, o.address);
    }
    eprintln!(
        "  fee {} BTC ({} sats, {} sat/vB, {} of the amount){}",
        r.fee,
        r.fee_sats,
        r.fee_rate,
        r.fee_share,
        if r.rbf { ", replaceable" } else { "" }
    );
    if let Some(w) = &r.warning {
        eprintln!("  warning: {w}");
    }
}

/// After a review: stop with the unsigned PSBT, or sign, check and broadcast.
fn sign_or_export(
    app: &Coldlink,
    json_out: bool,
    review: &BtcReview,
    psbt_out: Option<&str>,
    device: Option<&str>,
) -> Result<(), AppError> {
    print_review(review);
    if let Some(path) = psbt_out {
        let psbt = app.btc_export_psbt(review.id)?;
        // Written whole or not at all: a half-written PSBT must never reach a signer.
        let tmp = format!("{path}.partial");
        std::fs::write(&tmp, psbt.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| AppError::invalid(format!("cannot write {path}: {e}")))?;
        if json_out {
            println!("{}", json!({ "review": review, "psbt": psbt }));
        } else {
            println!("{path}");
        }
        return Ok(());
    }
    eprintln!("Confirm on your {}…", review.signer_name);
    let sent = app.btc_confirm_send_on(review.id, device)?;
    if json_out {
        println!("{}", json!({ "review": review, "txid": sent.txid }));
    } else {
        println!("{}", sent.txid);
    }
    Ok(())
}

/// Runs one of the account commands.
pub(crate) fn run(app: &Coldlink, json_out: bool, cmd: &Btc) -> Result<(), AppError> {
    match cmd {
        Btc::Node {
            chain,
            url,
            electrum,
            esplora,
            cookie,
            user,
            password,
        } => {
            // A password on the command line is visible to other users (ps) and stays in the
            // shell's history; the environment keeps it out of both.
            let password = if password.is_empty() {
                std::env::var("COLDLINK_NODE_PASSWORD").unwrap_or_default()
            } else {
                eprintln!(
                    "Note: a password given with --password is visible to other users of this \
                     computer while coldlink runs, and stays in your shell's history; \
                     COLDLINK_NODE_PASSWORD=… keeps it out of both."
                );
                password.clone()
            };
            let s = app.btc_set_node(
                parse_chain(chain)?,
                NodeSettings {
                    url: url.clone(),
                    cookie_file: cookie.clone(),
                    user: user.clone(),
                    password,
                    kind: match (electrum, esplora) {
                        (true, _) => "electrum",
                        (_, true) => "esplora",
                        _ => "rpc",
                    }
                    .into(),
                },
            )?;
            if json_out {
                println!("{}", json!(s));
            } else {
                println!(
                    "{} at block {}{}",
                    s.chain,
                    s.blocks,
                    if s.syncing { " (still syncing)" } else { "" }
                );
                if let Some(kept) = &s.password_kept {
                    println!("{kept}");
                }
            }
        }
        Btc::Sync { chain } => {
            let list = app.btc_sync(parse_chain(chain)?)?;
            if json_out {
                println!("{}", json!(list));
            } else {
                for b in list {
                    println!(
                        "{}\t{} BTC\t{} pending{}",
                        b.account_id,
                        b.confirmed,
                        b.pending,
                        b.error.map(|e| format!("\t({e})")).unwrap_or_default()
                    );
                }
            }
        }
        Btc::Receive {
            select,
            account,
            verify_on_device,
        } => {
            let mut r = app.btc_receive(*account)?;
            if *verify_on_device {
                eprintln!(
                    "Compare with your device's screen: {}",
                    r.device_shows.as_deref().unwrap_or(&r.address)
                );
                r =
                    app.btc_verify_address_on(*account, r.index, chosen(app, select)?.as_deref())?;
            }
            if json_out {
                println!("{}", json!(r));
            } else {
                println!("{}", r.address);
            }
        }
        Btc::Send {
            select,
            account,
            to,
            amount,
            sats,
            fiat,
            max_to,
            fee,
            coin,
            psbt_out,
        } => {
            if to.len() != amount.len() {
                return Err(AppError::invalid("give one --amount for each --to"));
            }
            let unit = match (*sats, *fiat) {
                (true, _) => "sats",
                (_, true) => "fiat",
                _ => "btc",
            };
            let recipients: Vec<RecipientInput> = to
                .iter()
                .zip(amount)
                .map(|(a, m)| RecipientInput {
                    address: a.clone(),
                    amount: m.clone(),
                    unit: unit.into(),
                })
                .collect();
            let dev = chosen(app, select)?;
            let review =
                app.btc_prepare_send(*account, &recipients, max_to.as_deref(), fee, coin)?;
            sign_or_export(app, json_out, &review, psbt_out.as_deref(), dev.as_deref())?;
        }
        Btc::Bump {
            select,
            account,
            txid,
            fee,
            cpfp,
            psbt_out,
        } => {
            let dev = chosen(app, select)?;
            let review = if *cpfp {
                app.btc_cpfp(*account, txid, fee)?
            } else {
                app.btc_bump_fee(*account, txid, fee)?
            };
            sign_or_export(app, json_out, &review, psbt_out.as_deref(), dev.as_deref())?;
        }
        Btc::Finish {
            account,
            unsigned,
            signed,
        } => {
            let review = app.btc_review_psbt(*account, &read_arg(unsigned)?)?;
            print_review(&review);
            let sent = app.btc_import_psbt(review.id, &read_arg(signed)?)?;
            if json_out {
                println!("{}", json!({ "review": review, "txid": sent.txid }));
            } else {
                println!("{}", sent.txid);
            }
        }
        Btc::Discover {
            select,
            soft,
            kind,
            chain,
        } => {
            let signer = if *soft {
                "soft".to_owned()
            } else {
                device(app, select)?
            };
            let added =
                app.btc_discover_accounts(&signer, parse_kind(kind)?, parse_chain(chain)?)?;
            if json_out {
                println!("{}", json!(added));
            } else {
                for a in added {
                    println!("{}\t{}\t{}", a.id, a.label, a.first_address);
                }
            }
        }
        _ => return Err(AppError::internal("not an account command")),
    }
    Ok(())
}

fn chosen(app: &Coldlink, s: &crate::Select) -> Result<Option<String>, AppError> {
    if s.device.is_none() && s.fingerprint.is_none() {
        return Ok(None);
    }
    device(app, s).map(Some)
}
