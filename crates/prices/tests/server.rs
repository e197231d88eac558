//! The price client against a local HTTP server answering in CoinGecko's JSON format: spot and
//! history read exactly; 429 with Retry-After, 500, a server that never answers, and malformed
//! JSON each give their own typed error; after a 429 the client does not call again early.

#![allow(clippy::panic)]

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    str::FromStr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use coldlink_prices::{Decimal, PriceClient, PriceError};

/// Answers each request with the next scripted (status, extra header, body); counts requests.
fn serve(
    script: Vec<(u16, &'static str, &'static str)>,
) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (c, p) = (Arc::clone(&count), Arc::clone(&paths));
    std::thread::spawn(move || {
        for (stream, (status, header, body)) in l.incoming().zip(script) {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            p.lock()
                .expect("lock")
                .push(line.split_whitespace().nth(1).unwrap_or("").to_owned());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
            }
            c.fetch_add(1, Ordering::SeqCst);
            if status == 0 {
                // Never answer: the client must time out.
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{header}\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    (url, count, paths)
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

#[test]
fn spot_and_history_are_read_exactly() {
    let (url, _, paths) = serve(vec![
        (
            200,
            "",
            r#"{"bitcoin":{"usd":97123.456789012345,"usd_24h_change":-1.25},"ethereum":{"usd":3012.47}}"#,
        ),
        (
            200,
            "",
            r#"{"prices":[[1700086400000,3100.5],[1700000000000,3000.25]],"market_caps":[],"total_volumes":[]}"#,
        ),
    ]);
    let c = PriceClient::new(&url, Duration::from_secs(2));
    let spot = c
        .spot(&["bitcoin", "ethereum", "dogecoin"], "USD")
        .expect("spot");
    assert_eq!(spot["bitcoin"].price, d("97123.456789012345"));
    assert_eq!(spot["bitcoin"].change_24h, Some(d("-1.25")));
    assert_eq!(spot["ethereum"].change_24h, None);
    assert!(
        !spot.contains_key("dogecoin"),
        "an unknown coin is absent, not zero"
    );
    let h = c.history("ethereum", "eur", 7).expect("history");
    assert_eq!(
        h,
        vec![
            (1_700_000_000_000, d("3000.25")),
            (1_700_086_400_000, d("3100.5"))
        ]
    );
    let p = paths.lock().expect("lock");
    assert!(p[0].starts_with("/simple/price?ids=bitcoin,ethereum,dogecoin&vs_currencies=usd"));
    assert!(p[1].starts_with("/coins/ethereum/market_chart?vs_currency=eur&days=7"));
}

#[test]
fn failures_are_typed_and_rate_limits_respected() {
    let (url, count, _) = serve(vec![
        (429, "Retry-After: 2\r\n", "{}"),
        (500, "", "oops"),
        (200, "", "{ not json"),
        (200, "", r#"{"bitcoin":{"usd":"12"}}"#),
        (0, "", ""),
    ]);
    let c = PriceClient::new(&url, Duration::from_millis(700));
    assert!(
        matches!(c.spot(&["bitcoin"], "usd"), Err(PriceError::RateLimited(w)) if w == Duration::from_secs(2))
    );
    // Within the wait, no request leaves.
    assert!(matches!(
        c.spot(&["bitcoin"], "usd"),
        Err(PriceError::RateLimited(_))
    ));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(2100));
    assert!(matches!(
        c.spot(&["bitcoin"], "usd"),
        Err(PriceError::Http(500))
    ));
    assert!(matches!(
        c.spot(&["bitcoin"], "usd"),
        Err(PriceError::Malformed(_))
    ));
    assert!(
        matches!(c.spot(&["bitcoin"], "usd"), Err(PriceError::Malformed(_))),
        "a price as a string"
    );
    let e = c.spot(&["bitcoin"], "usd").expect_err("timeout");
    assert!(matches!(e, PriceError::Unreachable(_)), "{e}");
    assert!(e.to_string().contains("last known prices"));
}
