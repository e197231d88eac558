//! Ledger's HID framing: how one APDU (or response) is cut into 64-byte reports and put back
//! together.
//!
//! Every report starts with a 5-byte header: channel (2 bytes, big-endian, 0x0101), tag 0x05
//! and a 16-bit big-endian sequence index. The first report of a message then carries the
//! message length (2 bytes, big-endian). The rest is payload, zero-padded to 64 bytes. So the
//! first report carries 57 payload bytes and each later one 59.

use coldlink_bridge::PACKET_SIZE;

/// The channel id Ledger devices use on HID.
pub const CHANNEL: u16 = 0x0101;
/// The tag of an APDU report.
pub const TAG_APDU: u8 = 0x05;

const HEADER: usize = 5;
const FIRST_PAYLOAD: usize = PACKET_SIZE - HEADER - 2;
const NEXT_PAYLOAD: usize = PACKET_SIZE - HEADER;

/// Why a sequence of reports is not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A report for another channel.
    #[error("HID report on channel {0:#06x}, expected {CHANNEL:#06x}")]
    WrongChannel(u16),
    /// A report with a tag other than APDU.
    #[error("HID report with tag {0:#04x}, expected {TAG_APDU:#04x}")]
    WrongTag(u8),
    /// Reports arrived out of order (or one was lost).
    #[error("HID report {got} arrived where {expected} was expected")]
    OutOfOrder {
        /// The index that should have come.
        expected: u16,
        /// The index that came.
        got: u16,
    },
    /// A report shorter than its header.
    #[error("HID report of {0} bytes is too short")]
    Truncated(usize),
    /// More data than the 16-bit length field (or the sequence counter) can describe.
    #[error("message of {0} bytes is too long for HID framing")]
    TooLong(usize),
}

/// Cuts `message` into zero-padded 64-byte reports.
pub fn frame(message: &[u8]) -> Result<Vec<[u8; PACKET_SIZE]>, FramingError> {
    let len = u16::try_from(message.len()).map_err(|_| FramingError::TooLong(message.len()))?;
    let mut reports = Vec::with_capacity(1 + message.len() / NEXT_PAYLOAD);
    let mut rest = message;
    let mut seq: u16 = 0;
    loop {
        let mut r = [0u8; PACKET_SIZE];
        r[0..2].copy_from_slice(&CHANNEL.to_be_bytes());
        r[2] = TAG_APDU;
        r[3..5].copy_from_slice(&seq.to_be_bytes());
        let (start, room) = if seq == 0 {
            r[5..7].copy_from_slice(&len.to_be_bytes());
            (HEADER + 2, FIRST_PAYLOAD)
        } else {
            (HEADER, NEXT_PAYLOAD)
        };
        let n = rest.len().min(room);
        r[start..start + n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        reports.push(r);
        if rest.is_empty() {
            return Ok(reports);
        }
        seq = seq
            .checked_add(1)
            .ok_or(FramingError::TooLong(message.len()))?;
    }
}

/// Puts a message back together from reports fed one at a time.
#[derive(Debug, Default)]
pub struct Reassembler {
    expected_len: Option<usize>,
    next_seq: u16,
    buf: Vec<u8>,
}

impl Reassembler {
    /// A reassembler waiting for the first report of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one report. Returns the message once its last report arrived.
    pub fn push(&mut self, report: &[u8]) -> Result<Option<Vec<u8>>, FramingError> {
        if report.len() < HEADER {
            return Err(FramingError::Truncated(report.len()));
        }
        let channel = u16::from_be_bytes([report[0], report[1]]);
        if channel != CHANNEL {
            return Err(FramingError::WrongChannel(channel));
        }
        if report[2] != TAG_APDU {
            return Err(FramingError::WrongTag(report[2]));
        }
        let seq = u16::from_be_bytes([report[3], report[4]]);
        if seq != self.next_seq {
            return Err(FramingError::OutOfOrder {
                expected: self.next_seq,
                got: seq,
            });
        }
        let payload = if seq == 0 {
            if report.len() < HEADER + 2 {
                return Err(FramingError::Truncated(report.len()));
            }
            let len = usize::from(u16::from_be_bytes([report[5], report[6]]));
            self.expected_len = Some(len);
            self.buf = Vec::with_capacity(len);
            &report[HEADER + 2..]
        } else {
            &report[HEADER..]
        };
        let want = self.expected_len.unwrap_or(0);
        let take = (want - self.buf.len()).min(payload.len());
        self.buf.extend_from_slice(&payload[..take]);
        if self.buf.len() == want {
            let out = std::mem::take(&mut self.buf);
            *self = Self::default();
            return Ok(Some(out));
        }
        self.next_seq = seq.checked_add(1).ok_or(FramingError::TooLong(want))?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) -> Vec<[u8; PACKET_SIZE]> {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let reports = frame(&msg).expect("frame");
        let mut r = Reassembler::new();
        let mut out = None;
        for (i, rep) in reports.iter().enumerate() {
            let got = r.push(rep).expect("push");
            assert_eq!(
                got.is_some(),
                i == reports.len() - 1,
                "len {len} report {i}"
            );
            out = got.or(out);
        }
        assert_eq!(out.expect("complete"), msg, "len {len}");
        reports
    }

    #[test]
    fn boundary_sizes_round_trip_with_the_right_report_count() {
        for (len, reports) in [
            (0, 1),
            (1, 1),
            (57, 1),
            (58, 2),
            (59, 2),
            (64, 2),
            (116, 2),
            (117, 3),
            (255, 5),
            (4096, 70),
        ] {
            assert_eq!(roundtrip(len).len(), reports, "len {len}");
        }
    }

    #[test]
    fn headers_and_padding_are_exact() {
        let reports = frame(&[0xe0, 0x01, 0x00, 0x00, 0x00]).expect("frame");
        let mut expected = [0u8; 64];
        expected[..12].copy_from_slice(&[0x01, 0x01, 0x05, 0, 0, 0, 5, 0xe0, 0x01, 0, 0, 0]);
        assert_eq!(reports, vec![expected]);
        let two = frame(&[0xaa; 58]).expect("frame");
        assert_eq!(&two[1][..6], &[0x01, 0x01, 0x05, 0x00, 0x01, 0xaa]);
        assert!(two[1][6..].iter().all(|b| *b == 0));
    }

    #[test]
    fn malformed_reports_give_typed_errors() {
        let good = frame(&[1u8; 100]).expect("frame");
        let mut bad = good[0];
        bad[1] = 0x02;
        assert_eq!(
            Reassembler::new().push(&bad),
            Err(FramingError::WrongChannel(0x0102))
        );
        let mut bad = good[0];
        bad[2] = 0x02;
        assert_eq!(
            Reassembler::new().push(&bad),
            Err(FramingError::WrongTag(0x02))
        );
        assert_eq!(
            Reassembler::new().push(&good[1]),
            Err(FramingError::OutOfOrder {
                expected: 0,
                got: 1
            })
        );
        let mut r = Reassembler::new();
        assert_eq!(r.push(&good[0]), Ok(None));
        assert_eq!(
            r.push(&good[0]),
            Err(FramingError::OutOfOrder {
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            Reassembler::new().push(&good[0][..4]),
            Err(FramingError::Truncated(4))
        );
        assert_eq!(
            Reassembler::new().push(&good[0][..6]),
            Err(FramingError::Truncated(6))
        );
        assert_eq!(
            frame(&vec![0u8; 70_000]),
            Err(FramingError::TooLong(70_000))
        );
        // Short reports (no padding) still reassemble: some stacks strip it.
        let mut r = Reassembler::new();
        let first = frame(&[9u8; 3]).expect("frame");
        assert_eq!(r.push(&first[0][..10]), Ok(Some(vec![9u8; 3])));
    }

    #[test]
    fn any_garbage_report_is_an_error_or_progress_never_a_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut rep = [0u8; 64];
            for b in rep.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            // Keep the header plausible half the time so deeper paths run.
            if seed & 1 == 0 {
                rep[..5].copy_from_slice(&[0x01, 0x01, 0x05, 0, 0]);
            }
            let len = (seed >> 8) as usize % 65;
            let _ = Reassembler::new().push(&rep[..len]);
        }
    }
}
