//! Keystore unlock time. A benchmark, not a test: prints figures. The parameters are what
//! `KdfParams::calibrate` picks on this machine for a 250 ms target; the baseline, measured in
//! the same run, is Argon2id alone at those parameters, so the ratio is the keystore's own
//! overhead (file read, checksum, two AEAD openings). Run: `cargo bench -p coldlink-keystore`.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use coldlink_keystore::{create, unlock, KdfParams, Unlock};
use coldlink_types::Sensitive;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let t = Instant::now();
    let params = KdfParams::calibrate(Duration::from_millis(250));
    println!(
        "calibrated Argon2id: {} MiB, {} passes, {} lane (calibration took {:.1} s)",
        params.m_cost_kib / 1024,
        params.t_cost,
        params.lanes,
        t.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir().join(format!("coldlink-ks-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("w.keystore");
    let pw = Sensitive::new("correct horse battery staple".to_owned());
    create(&path, &[0x42; 64], &pw, params).expect("create");
    let unlock_times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            unlock(&path, Unlock::Password(&pw)).expect("unlock");
            t.elapsed()
        })
        .collect();
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_cost_kib, params.t_cost, params.lanes, Some(32)).expect("params"),
    );
    let derive_times: Vec<Duration> = (0..5)
        .map(|_| {
            let mut out = [0u8; 32];
            let t = Instant::now();
            argon
                .hash_password_into(b"correct horse battery staple", &[7u8; 16], &mut out)
                .expect("derive");
            t.elapsed()
        })
        .collect();
    let (u, d) = (median(unlock_times), median(derive_times));
    println!(
        "unlock with password: {:.0} ms   (Argon2id alone: {:.0} ms; ratio {:.3})",
        u.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        u.as_secs_f64() / d.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(dir);
}
