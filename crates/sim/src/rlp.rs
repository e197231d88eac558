//! A small RLP reader, as the device's transaction parser needs it: find where a transaction
//! ends and read its fields for the screen. Every length is checked; malformed input is `None`.

/// One decoded RLP item.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    Bytes(&'a [u8]),
    List(Vec<Item<'a>>),
}

impl Item<'_> {
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Item::Bytes(b) => Some(b),
            Item::List(_) => None,
        }
    }
}

fn with_header(base: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 9);
    if payload.len() < 56 {
        out.push(base + payload.len() as u8);
    } else {
        let len = payload.len().to_be_bytes();
        let start = len.iter().position(|b| *b != 0).unwrap_or(len.len() - 1);
        out.push(base + 55 + (len.len() - start) as u8);
        out.extend_from_slice(&len[start..]);
    }
    out.extend_from_slice(payload);
    out
}

/// Encodes a byte string.
pub(crate) fn encode_bytes(b: &[u8]) -> Vec<u8> {
    match b {
        [x] if *x < 0x80 => vec![*x],
        _ => with_header(0x80, b),
    }
}

/// Encodes a list of already encoded items.
pub(crate) fn encode_list(items: &[Vec<u8>]) -> Vec<u8> {
    with_header(0xc0, &items.concat())
}

/// Reads an item's header: (is_list, header_len, payload_len).
pub(crate) fn header(b: &[u8]) -> Option<(bool, usize, usize)> {
    let &first = b.first()?;
    let long = |base: u8| -> Option<(usize, usize)> {
        let n = usize::from(first - base);
        if n == 0 || n > 8 {
            return None;
        }
        let len_bytes = b.get(1..1 + n)?;
        if len_bytes[0] == 0 {
            return None;
        }
        let len = len_bytes.iter().try_fold(0usize, |acc, &x| {
            acc.checked_mul(256)?.checked_add(usize::from(x))
        })?;
        Some((1 + n, len))
    };
    match first {
        0x00..=0x7f => Some((false, 0, 1)),
        0x80..=0xb7 => Some((false, 1, usize::from(first - 0x80))),
        0xb8..=0xbf => long(0xb7).map(|(h, l)| (false, h, l)),
        0xc0..=0xf7 => Some((true, 1, usize::from(first - 0xc0))),
        0xf8..=0xff => long(0xf7).map(|(h, l)| (true, h, l)),
    }
}

/// Total encoded length of the item starting at `b` (header plus payload).
pub(crate) fn item_len(b: &[u8]) -> Option<usize> {
    let (_, h, l) = header(b)?;
    h.checked_add(l)
}

/// Decodes the item at the start of `b`; returns it and what follows.
pub(crate) fn decode(b: &[u8]) -> Option<(Item<'_>, &[u8])> {
    let (is_list, h, l) = header(b)?;
    let end = h.checked_add(l)?;
    let body = b.get(h..end)?;
    let rest = &b[end..];
    if h == 0 {
        return Some((Item::Bytes(&b[..1]), rest));
    }
    if !is_list {
        return Some((Item::Bytes(body), rest));
    }
    let mut items = Vec::new();
    let mut cur = body;
    while !cur.is_empty() {
        let (item, next) = decode(cur)?;
        items.push(item);
        cur = next;
    }
    Some((Item::List(items), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_yellow_paper_examples() {
        assert_eq!(
            decode(&[0x83, b'd', b'o', b'g']).map(|x| x.0),
            Some(Item::Bytes(b"dog"))
        );
        let cat_dog = [0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g'];
        assert_eq!(
            decode(&cat_dog).map(|x| x.0),
            Some(Item::List(vec![Item::Bytes(b"cat"), Item::Bytes(b"dog")]))
        );
        assert_eq!(decode(&[0x80]).map(|x| x.0), Some(Item::Bytes(b"")));
        assert_eq!(decode(&[0xc0]).map(|x| x.0), Some(Item::List(vec![])));
        assert_eq!(decode(&[0x0f]).map(|x| x.0), Some(Item::Bytes(&[0x0f])));
        let mut long = vec![0xb8, 56];
        long.extend_from_slice(&[b'a'; 56]);
        assert_eq!(item_len(&long), Some(58));
        assert_eq!(
            decode(&long).and_then(|x| x.0.bytes().map(<[u8]>::len)),
            Some(56)
        );
    }

    #[test]
    fn encodes_the_yellow_paper_examples() {
        assert_eq!(encode_bytes(b"dog"), vec![0x83, b'd', b'o', b'g']);
        assert_eq!(encode_bytes(b""), vec![0x80]);
        assert_eq!(encode_bytes(&[0x0f]), vec![0x0f]);
        assert_eq!(encode_bytes(&[0x04, 0x00]), vec![0x82, 0x04, 0x00]);
        assert_eq!(
            encode_list(&[encode_bytes(b"cat"), encode_bytes(b"dog")]),
            vec![0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g']
        );
        assert_eq!(encode_list(&[]), vec![0xc0]);
        let long = vec![b'a'; 56];
        let e = encode_bytes(&long);
        assert_eq!(&e[..2], &[0xb8, 56]);
        assert_eq!(decode(&e).map(|(i, _)| i), Some(Item::Bytes(&long)));
    }

    #[test]
    fn malformed_input_is_none_never_a_panic() {
        for bad in [
            &[][..],
            &[0x83, b'd'],
            &[0xb8],
            &[0xb8, 0x00],
            &[0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0xc2, 0x83, b'a'],
            &[0xf8],
        ] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let buf: Vec<u8> = (0..(x % 24) as usize)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = decode(&buf);
            let _ = item_len(&buf);
        }
    }
}
