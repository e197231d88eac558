//! A node's RPC password in a real Secret Service. `scripts/test` runs this inside
//! `dbus-run-session` with an unlocked `gnome-keyring-daemon` on throwaway XDG folders;
//! elsewhere it is ignored (it would write to the developer's own keyring).

use coldlink_app::{AppConfig, Coldlink, NodeSettings};

#[test]
#[ignore = "needs a Secret Service: scripts/test runs it in dbus-run-session with gnome-keyring"]
fn the_node_password_goes_to_the_secret_service_not_the_database() {
    let node = coldlink_testkit::Bitcoind::start("node-password-keyring");
    let dir = std::env::temp_dir().join(format!("coldlink-npk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        system_keyring: true,
        ..Default::default()
    });
    let net = bitcoin::Network::Regtest;
    let settings = NodeSettings {
        url: node.url(),
        cookie_file: String::new(),
        user: "coldlink".into(),
        password: "coldlink".into(),
        kind: String::new(),
    };
    let status = app.btc_set_node(net, settings.clone()).expect("set");
    assert_eq!(
        status.password_kept.as_deref(),
        Some("The password is kept in the system keyring.")
    );
    // Nothing of it in the database: not in the settings, not as a secret setting.
    let (store, _) = coldlink_store::Store::open(&dir.join("coldlink.db")).expect("db");
    let data = store.user_data().expect("data");
    assert!(data.settings.iter().any(|(k, _)| k == "btc.node.regtest"));
    assert_eq!(
        store
            .setting("secret.btc.node.regtest.password")
            .expect("read"),
        None
    );
    let kept: NodeSettings = serde_json::from_str(
        &store
            .setting("btc.node.regtest")
            .expect("read")
            .expect("kept"),
    )
    .expect("json");
    assert_eq!(kept.password, "");
    // A sync reads it back from the keyring, also in a new session of the app.
    app.btc_sync(net).expect("sync");
    drop(app);
    let again = Coldlink::new(AppConfig {
        data_dir: Some(dir.clone()),
        system_keyring: true,
        ..Default::default()
    });
    again.btc_sync(net).expect("sync after a restart");
    // Switching to a cookie file forgets it: the next password-less login fails.
    let cookie = dir.join("login.cookie");
    std::fs::write(&cookie, "coldlink:coldlink").expect("cookie");
    let mut with_cookie = settings.clone();
    with_cookie.password.clear();
    with_cookie.cookie_file = cookie.display().to_string();
    again.btc_set_node(net, with_cookie).expect("cookie");
    let mut without = settings;
    without.password.clear();
    assert!(
        again.btc_set_node(net, without).is_err(),
        "the keyring no longer has it"
    );
    let _ = std::fs::remove_dir_all(dir);
}
