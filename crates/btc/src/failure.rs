//! What went wrong talking to a chain server, in words a user can act on: the client
//! libraries' own messages name their internals ("Made one or multiple attempts, all
//! errored", `Minreq(SerdeJsonError(…))`), which say nothing to someone whose server just
//! went away.

use std::io::ErrorKind;

/// A connection's failure.
pub(crate) fn io(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => "the server closed the connection".into(),
        ErrorKind::ConnectionRefused => "nothing answers there (connection refused)".into(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "the server did not answer in time".into(),
        _ => e.to_string(),
    }
}

/// An Electrum client's failure. Of several attempts, the latest connection failure says most
/// (the client keeps the errors of the attempts before its last).
pub(crate) fn electrum(e: &bdk_electrum::electrum_client::Error) -> String {
    use bdk_electrum::electrum_client::Error;
    match e {
        Error::AllAttemptsErrored(all) => all
            .iter()
            .rev()
            .find(|e| matches!(e, Error::IOError(_) | Error::SharedIOError(_)))
            .or(all.last())
            .map_or_else(|| e.to_string(), electrum),
        Error::IOError(e) => io(e),
        Error::SharedIOError(e) => io(e),
        // An answer broken off where the connection closed.
        Error::JSON(j) if j.is_eof() => "the server closed the connection".into(),
        other => other.to_string(),
    }
}

/// An Esplora client's failure.
pub(crate) fn esplora(e: &bdk_esplora::esplora_client::Error) -> String {
    match e {
        bdk_esplora::esplora_client::Error::Minreq(minreq::Error::IoError(e)) => io(e),
        bdk_esplora::esplora_client::Error::Minreq(minreq::Error::SerdeJsonError(_)) => {
            "the server's answer was cut off or is not an Esplora answer".into()
        }
        // What minreq reports when the connection closes before a status line.
        bdk_esplora::esplora_client::Error::HttpResponse {
            status: 503,
            message,
        } if message.trim().is_empty() => {
            "the server closed the connection or is unavailable (HTTP 503)".into()
        }
        bdk_esplora::esplora_client::Error::HttpResponse { status, message } => {
            let said: String = message.trim().chars().take(200).collect();
            if said.is_empty() {
                format!("it answered HTTP {status}")
            } else {
                format!("it answered HTTP {status}: {said}")
            }
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bdk_electrum::electrum_client::Error;

    #[test]
    fn a_closed_connection_is_said_so() {
        let eof = || std::io::Error::new(ErrorKind::UnexpectedEof, "unexpected EOF");
        let all = Error::AllAttemptsErrored(vec![
            Error::IOError(std::io::Error::from(ErrorKind::TimedOut)),
            Error::IOError(eof()),
        ]);
        assert_eq!(electrum(&all), "the server closed the connection");
        assert_eq!(
            electrum(&Error::IOError(std::io::Error::from(
                ErrorKind::ConnectionRefused
            ))),
            "nothing answers there (connection refused)"
        );
        assert_eq!(electrum(&Error::Message("odd".into())), "odd");
        let cut = serde_json::from_str::<serde_json::Value>("{\"id\": 1, \"res").expect_err("cut");
        assert_eq!(
            electrum(&Error::AllAttemptsErrored(vec![Error::JSON(cut)])),
            "the server closed the connection"
        );
        let bad = serde_json::from_str::<serde_json::Value>("{]").expect_err("bad");
        assert!(!electrum(&Error::JSON(bad)).contains("closed"));
        let cut = serde_json::from_str::<serde_json::Value>("").expect_err("empty");
        assert!(esplora(&bdk_esplora::esplora_client::Error::Minreq(
            minreq::Error::SerdeJsonError(cut)
        ))
        .contains("cut off"));
        assert_eq!(
            esplora(&bdk_esplora::esplora_client::Error::Minreq(
                minreq::Error::IoError(eof())
            )),
            "the server closed the connection"
        );
        let http = bdk_esplora::esplora_client::Error::HttpResponse {
            status: 503,
            message: "busy".into(),
        };
        assert_eq!(esplora(&http), "it answered HTTP 503: busy");
        let closed = bdk_esplora::esplora_client::Error::HttpResponse {
            status: 503,
            message: String::new(),
        };
        assert!(esplora(&closed).contains("closed the connection"));
    }
}
