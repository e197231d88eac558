//! `coldlink`: every Coldlink capability from a terminal, over the same application services
//! the desktop app uses. `--json` output is for scripts; errors exit non-zero with the
//! service's message (and, with `--json`, its stable `kind`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coldlink_app::{AppError, Coldlink, DeviceList};

#[derive(Parser)]
#[command(name = "coldlink", version, about = "Coldlink hardware-wallet tool")]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List connected hardware wallets and live emulator endpoints.
    Devices,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                let body = serde_json::json!({ "error": e });
                println!("{body}");
            } else {
                eprintln!("coldlink: {}", e.message);
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), AppError> {
    let app = Coldlink::from_env()?;
    match cli.command {
        Command::Devices => {
            let list = app.devices().list();
            if cli.json {
                let text = serde_json::to_string_pretty(&list)
                    .map_err(|e| AppError::internal(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", render_devices(&list));
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
        out.push_str(&format!("{}\t{}\t{}\n", d.id, d.model_name, state));
    }
    out
}
