//! The Trezor wire framing ("protocol v1"): a message is its 2-byte type and 4-byte length
//! (both big-endian) after the marker `?##`, cut into 64-byte packets. The first packet is
//! `?` `#` `#` type length and 55 payload bytes; every later packet is `?` and 63 bytes;
//! the last is zero-padded.

use coldlink_bridge::PACKET_SIZE;

const FIRST_HEADER: usize = 9;
const NEXT_HEADER: usize = 1;
/// Largest message accepted. Real messages are far smaller (a previous transaction is sent in
/// pieces); a larger length field is damage or a hostile peer.
pub const MAX_MESSAGE: usize = 1 << 20;

/// Why packets are not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The packet does not start with `?` (or the first one with `?##`).
    #[error("packet does not start with the Trezor marker")]
    BadMagic,
    /// A packet shorter than its header.
    #[error("packet of {0} bytes is too short")]
    Truncated(usize),
    /// The announced length is over [`MAX_MESSAGE`].
    #[error("message of {0} bytes is too long")]
    TooLong(usize),
}

/// Cuts a message of `msg_type` with `payload` into zero-padded packets.
pub fn frame(msg_type: u16, payload: &[u8]) -> Result<Vec<[u8; PACKET_SIZE]>, FramingError> {
    if payload.len() > MAX_MESSAGE {
        return Err(FramingError::TooLong(payload.len()));
    }
    let mut packets = Vec::with_capacity(1 + payload.len() / (PACKET_SIZE - NEXT_HEADER));
    let mut first = [0u8; PACKET_SIZE];
    first[..3].copy_from_slice(b"?##");
    first[3..5].copy_from_slice(&msg_type.to_be_bytes());
    first[5..9].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    let n = payload.len().min(PACKET_SIZE - FIRST_HEADER);
    first[FIRST_HEADER..FIRST_HEADER + n].copy_from_slice(&payload[..n]);
    packets.push(first);
    for chunk in payload[n..].chunks(PACKET_SIZE - NEXT_HEADER) {
        let mut p = [0u8; PACKET_SIZE];
        p[0] = b'?';
        p[1..1 + chunk.len()].copy_from_slice(chunk);
        packets.push(p);
    }
    Ok(packets)
}

/// Puts a message back together from packets fed one at a time.
#[derive(Debug, Default)]
pub struct Reassembler {
    msg_type: u16,
    expected: Option<usize>,
    buf: Vec<u8>,
}

impl Reassembler {
    /// A reassembler waiting for a first packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one packet; returns `(type, payload)` once the message is complete.
    pub fn push(&mut self, packet: &[u8]) -> Result<Option<(u16, Vec<u8>)>, FramingError> {
        let payload = match self.expected {
            None => {
                if packet.len() < FIRST_HEADER {
                    return Err(FramingError::Truncated(packet.len()));
                }
                if &packet[..3] != b"?##" {
                    return Err(FramingError::BadMagic);
                }
                let len = u32::from_be_bytes([packet[5], packet[6], packet[7], packet[8]]) as usize;
                if len > MAX_MESSAGE {
                    return Err(FramingError::TooLong(len));
                }
                self.msg_type = u16::from_be_bytes([packet[3], packet[4]]);
                self.expected = Some(len);
                self.buf = Vec::with_capacity(len);
                &packet[FIRST_HEADER..]
            }
            Some(_) => {
                match packet.first() {
                    None => return Err(FramingError::Truncated(0)),
                    Some(b'?') => {}
                    Some(_) => return Err(FramingError::BadMagic),
                }
                &packet[NEXT_HEADER..]
            }
        };
        let want = self.expected.unwrap_or(0);
        let take = (want - self.buf.len()).min(payload.len());
        self.buf.extend_from_slice(&payload[..take]);
        if self.buf.len() == want {
            let out = (self.msg_type, std::mem::take(&mut self.buf));
            *self = Self::default();
            return Ok(Some(out));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) -> usize {
        let msg: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
        let packets = frame(0x0011, &msg).expect("frame");
        let mut r = Reassembler::new();
        let mut out = None;
        for (i, p) in packets.iter().enumerate() {
            let got = r.push(p).expect("push");
            assert_eq!(
                got.is_some(),
                i == packets.len() - 1,
                "len {len} packet {i}"
            );
            out = got.or(out);
        }
        assert_eq!(out.expect("complete"), (0x0011, msg));
        packets.len()
    }

    #[test]
    fn boundary_sizes_round_trip_with_the_right_packet_count() {
        for (len, packets) in [
            (0, 1),
            (1, 1),
            (55, 1),
            (56, 2),
            (118, 2),
            (119, 3),
            (255, 5),
            (4096, 66),
        ] {
            assert_eq!(roundtrip(len), packets, "len {len}");
        }
    }

    #[test]
    fn header_layout_is_exact() {
        let p = frame(55, &[0xaa; 3]).expect("frame");
        let mut expected = [0u8; 64];
        expected[..12].copy_from_slice(&[b'?', b'#', b'#', 0, 55, 0, 0, 0, 3, 0xaa, 0xaa, 0xaa]);
        assert_eq!(p, vec![expected]);
        let two = frame(1, &[7; 60]).expect("frame");
        assert_eq!(&two[1][..6], &[b'?', 7, 7, 7, 7, 7]);
        assert!(two[1][6..].iter().all(|b| *b == 0));
    }

    #[test]
    fn malformed_packets_give_typed_errors() {
        let good = frame(17, &[1u8; 100]).expect("frame");
        let mut bad = good[0];
        bad[1] = b'!';
        assert_eq!(Reassembler::new().push(&bad), Err(FramingError::BadMagic));
        assert_eq!(
            Reassembler::new().push(&good[0][..8]),
            Err(FramingError::Truncated(8))
        );
        let mut huge = good[0];
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Reassembler::new().push(&huge),
            Err(FramingError::TooLong(u32::MAX as usize))
        );
        let mut r = Reassembler::new();
        assert_eq!(r.push(&good[0]), Ok(None));
        let mut cont = good[1];
        cont[0] = b'#';
        assert_eq!(r.push(&cont), Err(FramingError::BadMagic));
        assert_eq!(
            Reassembler::new().push(&[]),
            Err(FramingError::Truncated(0))
        );
        assert!(frame(1, &vec![0; MAX_MESSAGE + 1]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            let mut p = [0u8; 64];
            for b in p.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            if x & 1 == 0 {
                p[..3].copy_from_slice(b"?##");
            }
            let mut r = Reassembler::new();
            let _ = r.push(&p[..(x >> 8) as usize % 65]);
            let _ = r.push(&p);
        }
    }
}
