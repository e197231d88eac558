//! The Bitcoin app's interrupted execution, device side: a command runs as a program on its
//! own thread and asks the host for data (preimages, merkle leaves and proofs) as it goes.
//! Each request leaves the device as an answer with status 0xE000; the host's reply comes back
//! in CONTINUE_INTERRUPTED and resumes the program. Everything received is checked against
//! the hashes the device already holds: a host cannot feed it data it did not commit to.

use std::{
    sync::mpsc::{channel, Receiver, Sender},
    thread,
};

use bitcoin::hashes::{sha256, Hash};

use super::Outcome;

/// Status word for "the host broke the protocol".
pub(super) const BAD_STATE: u16 = 0xB007;
const WRONG_DATA: u16 = 0x6A80;

pub(super) type R<T> = Result<T, u16>;

pub(super) enum Step {
    Interrupt(Vec<u8>),
    Done(Outcome),
}

/// A program waiting for the host.
pub(super) struct Running {
    answers: Sender<Vec<u8>>,
    steps: Receiver<Step>,
}

impl Running {
    /// Starts `program` and returns it with its first step.
    pub(super) fn start(
        program: impl FnOnce(&Host) -> Outcome + Send + 'static,
    ) -> (Self, Option<Step>) {
        let (step_tx, steps) = channel();
        let (answers, answer_rx) = channel();
        let spawned = thread::Builder::new()
            .name("ledger-sim-program".into())
            .spawn(move || {
                let host = Host {
                    steps: step_tx.clone(),
                    answers: answer_rx,
                };
                let out = program(&host);
                let _ = step_tx.send(Step::Done(out));
            });
        let running = Self { answers, steps };
        let first = spawned.ok().and_then(|_| running.steps.recv().ok());
        (running, first)
    }

    /// Hands the host's answer to the program; returns its next step.
    pub(super) fn resume(&self, answer: Vec<u8>) -> Option<Step> {
        self.answers.send(answer).ok()?;
        self.steps.recv().ok()
    }
}

/// The program's view of the host.
pub(super) struct Host {
    steps: Sender<Step>,
    answers: Receiver<Vec<u8>>,
}

pub(super) fn sha(data: &[u8]) -> [u8; 32] {
    sha256::Hash::hash(data).to_byte_array()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut p = Vec::with_capacity(65);
    p.push(0x01);
    p.extend_from_slice(l);
    p.extend_from_slice(r);
    sha(&p)
}

fn largest_pow2_below(n: usize) -> usize {
    let mut p = 1;
    while p * 2 < n {
        p *= 2;
    }
    p
}

/// The root a leaf and its proof (siblings from the bottom up) lead to, in a tree of `size`
/// leaves split at the largest power of two below the size.
pub(super) fn root_from_proof(
    leaf: &[u8; 32],
    index: usize,
    size: usize,
    proof: &[[u8; 32]],
) -> Option<[u8; 32]> {
    if size == 0 || index >= size {
        return None;
    }
    if size == 1 {
        return proof.is_empty().then_some(*leaf);
    }
    let (sibling, rest) = proof.split_last()?;
    let left = largest_pow2_below(size);
    if index < left {
        Some(node(&root_from_proof(leaf, index, left, rest)?, sibling))
    } else {
        Some(node(
            sibling,
            &root_from_proof(leaf, index - left, size - left, rest)?,
        ))
    }
}

pub(super) fn write_varint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Reads a CompactSize; returns it and the bytes consumed.
pub(super) fn read_varint(b: &[u8]) -> R<(u64, usize)> {
    let first = *b.first().ok_or(WRONG_DATA)?;
    let take = |n: usize| b.get(1..1 + n).ok_or(WRONG_DATA);
    Ok(match first {
        0xfd => (
            u64::from(u16::from_le_bytes(
                take(2)?.try_into().map_err(|_| WRONG_DATA)?,
            )),
            3,
        ),
        0xfe => (
            u64::from(u32::from_le_bytes(
                take(4)?.try_into().map_err(|_| WRONG_DATA)?,
            )),
            5,
        ),
        0xff => (
            u64::from_le_bytes(take(8)?.try_into().map_err(|_| WRONG_DATA)?),
            9,
        ),
        n => (u64::from(n), 1),
    })
}

/// A cursor over request data.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl Reader<'_> {
    pub(super) fn bytes(&mut self, n: usize) -> R<&[u8]> {
        if self.0.len() < n {
            return Err(WRONG_DATA);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub(super) fn hash(&mut self) -> R<[u8; 32]> {
        self.bytes(32)?.try_into().map_err(|_| WRONG_DATA)
    }
    pub(super) fn u8(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }
    pub(super) fn varint(&mut self) -> R<usize> {
        let (v, n) = read_varint(self.0)?;
        self.0 = &self.0[n..];
        usize::try_from(v).map_err(|_| WRONG_DATA)
    }
}

/// A merkleized map: how many entries, and the roots of its sorted keys and their values.
#[derive(Clone, Copy)]
pub(super) struct MapCommitment {
    pub(super) size: usize,
    pub(super) keys: [u8; 32],
    pub(super) values: [u8; 32],
}

impl MapCommitment {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        Ok(Self {
            size: r.varint()?,
            keys: r.hash()?,
            values: r.hash()?,
        })
    }
}

impl Host {
    fn call(&self, request: Vec<u8>) -> R<Vec<u8>> {
        self.steps
            .send(Step::Interrupt(request))
            .map_err(|_| BAD_STATE)?;
        self.answers.recv().map_err(|_| BAD_STATE)
    }

    /// Elements the host queued because they did not fit one answer.
    fn more(&self, size: usize, out: &mut Vec<u8>, want: usize) -> R<()> {
        while out.len() < want {
            let m = self.call(vec![0xa0])?;
            let mut r = Reader(&m);
            let (count, el) = (usize::from(r.u8()?), usize::from(r.u8()?));
            if count == 0 || el != size {
                return Err(BAD_STATE);
            }
            out.extend_from_slice(r.bytes(count * el)?);
        }
        (out.len() == want).then_some(()).ok_or(BAD_STATE)
    }

    /// The data whose SHA-256 is `hash`.
    pub(super) fn preimage(&self, hash: &[u8; 32]) -> R<Vec<u8>> {
        let mut req = vec![0x40, 0x00];
        req.extend_from_slice(hash);
        let a = self.call(req)?;
        let mut r = Reader(&a);
        let len = r.varint()?;
        let first = usize::from(r.u8()?);
        let mut out = r.bytes(first)?.to_vec();
        self.more(1, &mut out, len)?;
        (sha(&out) == *hash).then_some(out).ok_or(BAD_STATE)
    }

    /// The hash of leaf `index` of the tree with `root`, proven against the root.
    pub(super) fn leaf_hash(&self, root: &[u8; 32], size: usize, index: usize) -> R<[u8; 32]> {
        let mut req = vec![0x41];
        req.extend_from_slice(root);
        write_varint(&mut req, size as u64);
        write_varint(&mut req, index as u64);
        let a = self.call(req)?;
        let mut r = Reader(&a);
        let leaf = r.hash()?;
        let (proof_len, n) = (usize::from(r.u8()?), usize::from(r.u8()?));
        let mut flat = r.bytes(32 * n)?.to_vec();
        self.more(32, &mut flat, 32 * proof_len)?;
        let proof: Vec<[u8; 32]> = flat
            .chunks_exact(32)
            .filter_map(|c| c.try_into().ok())
            .collect();
        match root_from_proof(&leaf, index, size, &proof) {
            Some(r) if r == *root => Ok(leaf),
            _ => Err(BAD_STATE),
        }
    }

    /// Element `index` of the committed list with `root`.
    pub(super) fn leaf(&self, root: &[u8; 32], size: usize, index: usize) -> R<Vec<u8>> {
        let h = self.leaf_hash(root, size, index)?;
        let p = self.preimage(&h)?;
        match p.split_first() {
            Some((0x00, element)) => Ok(element.to_vec()),
            _ => Err(BAD_STATE),
        }
    }

    /// Every (key, value) of a merkleized map. The device reads maps whole rather than asking
    /// for single keys: not every host answers a lookup of an absent key.
    pub(super) fn read_map(&self, c: &MapCommitment) -> R<Vec<(Vec<u8>, Vec<u8>)>> {
        (0..c.size)
            .map(|i| {
                Ok((
                    self.leaf(&c.keys, c.size, i)?,
                    self.leaf(&c.values, c.size, i)?,
                ))
            })
            .collect()
    }

    /// Sends `data` to the host to keep (signatures).
    pub(super) fn yield_data(&self, data: &[u8]) -> R<()> {
        let mut req = vec![0x10];
        req.extend_from_slice(data);
        self.call(req).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_hash_of(element: &[u8]) -> [u8; 32] {
        let mut p = vec![0x00];
        p.extend_from_slice(element);
        sha(&p)
    }

    /// Builds the tree the host side builds and checks every leaf's proof against it.
    fn build(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let l = largest_pow2_below(leaves.len());
        node(&build(&leaves[..l]), &build(&leaves[l..]))
    }

    fn proof(leaves: &[[u8; 32]], index: usize) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return vec![];
        }
        let l = largest_pow2_below(leaves.len());
        let (mut p, sib) = if index < l {
            (proof(&leaves[..l], index), build(&leaves[l..]))
        } else {
            (proof(&leaves[l..], index - l), build(&leaves[..l]))
        };
        p.push(sib);
        p
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_size_and_nothing_else() {
        for size in 1..=17 {
            let leaves: Vec<[u8; 32]> = (0..size).map(|i| leaf_hash_of(&[i as u8])).collect();
            let root = build(&leaves);
            for i in 0..size {
                let p = proof(&leaves, i);
                assert_eq!(
                    root_from_proof(&leaves[i], i, size, &p),
                    Some(root),
                    "{size}/{i}"
                );
                if size > 1 {
                    let other = (i + 1) % size;
                    assert_ne!(root_from_proof(&leaves[other], i, size, &p), Some(root));
                }
            }
        }
        assert_eq!(root_from_proof(&[0; 32], 0, 0, &[]), None);
        assert_eq!(root_from_proof(&[0; 32], 3, 2, &[[1; 32]]), None);
    }

    #[test]
    fn varints_round_trip_and_reject_truncation() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
        ] {
            let mut b = Vec::new();
            write_varint(&mut b, n);
            assert_eq!(read_varint(&b), Ok((n, b.len())));
            assert!(read_varint(&b[..b.len() - 1]).is_err() || b.len() == 1);
        }
        assert!(read_varint(&[]).is_err());
    }
}
