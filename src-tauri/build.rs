//! Builds the Tauri context and the app's command ACL: only commands listed here can be
//! granted to the window, and `capabilities/default.json` grants exactly them.
fn main() {
    let commands = &[
        "app_info",
        "list_devices",
        "start_demo_device",
        "stop_demo_device",
        "demo_screens",
        "device_catalogue",
        "portfolio",
        "portfolio_refresh",
        "portfolio_history",
        "set_currency",
        "store_notice",
        "journal_entries",
        "journal_verify",
        "evm_networks",
        "evm_add_network",
        "evm_set_rpc",
        "evm_accounts",
        "evm_add_account",
        "evm_remove_account",
        "evm_add_token",
        "evm_prepare_send",
        "evm_confirm_send",
        "evm_send_status",
        "evm_sends",
        "device_support",
        "device_fingerprint",
        "device_prompt",
        "answer_pin_matrix",
        "answer_passphrase",
        "cancel_device_prompt",
        "wallet_status",
        "wallet_new_phrase",
        "wallet_create",
        "wallet_restore",
        "wallet_unlock",
        "wallet_lock",
        "wallet_set_auto_lock",
        "wallet_change_password",
        "wallet_delete",
        "wallet_receive_address",
        "wallet_suggest",
        "frontend_ready",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build step failed");
}
