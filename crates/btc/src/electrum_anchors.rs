//! Confirmations for a first Electrum scan without a Merkle proof per transaction, where a
//! proof adds nothing: for blocks at least [`PROOF_DEPTH`] deep.
//!
//! `bdk_electrum` asks the server for a Merkle proof of every confirmed transaction and checks
//! it against that block's header — a header it also takes from the same server, without
//! checking its proof of work or its place in a chain. So the proof does not protect against
//! a server that lies (it can make up the header too); what it catches is a server whose
//! height for a transaction is stale: a block replaced between the history answer and the
//! header's. That can only happen near the tip. It is also the slowest part of a large first
//! sync: electrs answers each proof by asking its node for the whole block's transaction list
//! (measured: 10,000 proofs, 9 of the 18 s of the benchmark's first sync).
//!
//! Here, before the scan, the histories it is about to ask for are read (and kept for it, so
//! nothing is asked twice) with the same gap rule, and every transaction confirmed at least
//! [`PROOF_DEPTH`] blocks below the tip is given its confirmation from the server's height and
//! the header at that height. Newer ones still get their proof from `bdk_electrum`.

use std::sync::atomic::{AtomicBool, Ordering};

use bdk_electrum::{
    bdk_core::{BlockId, ConfirmationBlockTime},
    electrum_client::{ElectrumApi, Error},
};
use bdk_wallet::{KeychainKind, Wallet};
use bitcoin::{Script, ScriptBuf, Txid};

use crate::electrum_batch::ChunkedClient;

/// Blocks at or below `tip + 1 - PROOF_DEPTH` (six confirmations and more) are taken from the
/// server's heights. A replacement of six blocks has not happened on Bitcoin since 2013's fork.
pub(crate) const PROOF_DEPTH: u32 = 6;

/// The most scripts one read of the handed-out range asks for.
const MAX_BATCH: usize = 1_000;

/// The most scripts one read past the handed-out range asks for: a read grows from `batch`
/// while its scripts are used, up to this. Whatever is on the wire when the gap is found is
/// read for nothing (electrs: ~0.2 s per 1,000 unused scripts, measured), and with
/// [`READS_IN_FLIGHT`] reads out that is up to twice this: reads of 1,000 read 1,630 scripts
/// past the end of the benchmark's 2,000-address chain, reads of one chunk 530. Smaller reads
/// cost nothing more: two in flight keep the server as busy.
const MAX_DISCOVERY: usize = crate::electrum_batch::CHUNK;

/// How many reads of one chain are on the wire at once: the next is sent, sized from what was
/// known when it left, while the one before is answered (see `electrum_batch::IN_FLIGHT`).
/// The last one may read past the gap; the scan asks none of that.
const READS_IN_FLIGHT: usize = 2;

/// The confirmations of `wallet`'s transactions deeper than [`PROOF_DEPTH`], read with the
/// scan's own rule (`stop_gap` unused scripts in a row past the last one handed out), ready for
/// `BdkElectrumClient::populate_anchor_cache`. The scripts already handed out are read in
/// batches of up to [`MAX_BATCH`]; beyond them the reads start at `batch` scripts and double
/// (to [`MAX_DISCOVERY`]) while they find used ones: a busy account is read in a few round
/// trips, a new one in one per chain. Both chains are read at once. The scan's own smaller batches are then answered
/// from what was read.
pub(crate) fn deep_anchors(
    client: &ChunkedClient,
    wallet: &Wallet,
    stop_gap: usize,
    batch: usize,
) -> Result<PreScan, Error> {
    let tip = u32::try_from(client.block_headers_subscribe_raw()?.height).unwrap_or(0);
    let keychains: Vec<KeychainKind> = wallet.keychains().map(|(k, _)| k).collect();
    let chains: Vec<_> = keychains
        .iter()
        .map(|&k| Chain {
            spks: wallet.unbounded_spk_iter(k),
            last_revealed: wallet.derivation_index(k),
        })
        .collect();
    // A chain that fails stops the other sending more (the server is likely down).
    let failed = AtomicBool::new(false);
    let read: Vec<Result<ChainRead, Error>> = std::thread::scope(|s| {
        let reads: Vec<_> = chains
            .into_iter()
            .map(|chain| {
                let failed = &failed;
                s.spawn(move || {
                    let read = chain.read(client, stop_gap, batch, tip, failed);
                    if read.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    read
                })
            })
            .collect();
        reads
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err(Error::Message("a history read stopped".into())))
            })
            .collect()
    });
    let mut confirmed: Vec<(Txid, u32)> = Vec::new();
    let mut scripts = Vec::new();
    for (keychain, r) in keychains.into_iter().zip(read) {
        let (deep, derived) = r?;
        confirmed.extend(deep);
        scripts.push((keychain, derived));
    }
    let mut heights: Vec<u32> = confirmed.iter().map(|(_, h)| *h).collect();
    heights.sort_unstable();
    heights.dedup();
    let headers = client.batch_block_header(heights.iter().copied())?;
    let blocks: std::collections::HashMap<u32, bitcoin::block::Header> =
        heights.into_iter().zip(headers).collect();
    let anchors = confirmed
        .into_iter()
        .filter_map(|(txid, height)| {
            let header = blocks.get(&height)?;
            Some((
                txid,
                [ConfirmationBlockTime {
                    block_id: BlockId {
                        height,
                        hash: header.block_hash(),
                    },
                    confirmation_time: u64::from(header.time),
                }],
            ))
        })
        .collect();
    Ok(PreScan { anchors, scripts })
}

/// What [`deep_anchors`] read.
pub(crate) struct PreScan {
    /// Confirmations deeper than [`PROOF_DEPTH`].
    pub anchors: Vec<(Txid, [ConfirmationBlockTime; 1])>,
    /// Per chain, the scripts derived and read, from index 0 in order: the scan is handed
    /// these rather than deriving them again (about 40 µs each).
    pub scripts: Vec<(KeychainKind, Vec<(u32, ScriptBuf)>)>,
}

/// What a chain's read found: its deep transactions with their heights, and the scripts
/// derived for it.
type ChainRead = (Vec<(Txid, u32)>, Vec<(u32, ScriptBuf)>);

/// One chain (receive or change) of the wallet, to be read.
struct Chain<I> {
    spks: I,
    last_revealed: Option<u32>,
}

impl<I: Iterator<Item = (u32, ScriptBuf)>> Chain<I> {
    /// Reads this chain's histories until `stop_gap` unused scripts in a row past the last one
    /// handed out; returns its transactions confirmed deep below `tip`, with their heights.
    fn read(
        mut self,
        client: &ChunkedClient,
        stop_gap: usize,
        batch: usize,
        tip: u32,
        failed: &AtomicBool,
    ) -> Result<ChainRead, Error> {
        let scan = batch.max(1);
        // Scripts the wallet has handed out, and the gap past them, are read in as few round
        // trips as fit, to a whole number of the scan's batches (so it asks nothing not read
        // here): a re-sync after a restart reads what it needs, not the doubling's overshoot.
        // Past them, the doubling finds how far use goes.
        let known = self
            .last_revealed
            .map(|l| (l as usize + 1 + stop_gap).div_ceil(scan) * scan);
        let (mut size, mut sent, mut unused) = (scan, 0usize, 0usize);
        let (mut confirmed, mut derived) = (Vec::new(), Vec::new());
        std::thread::scope(|s| {
            let mut in_flight = std::collections::VecDeque::new();
            let mut more = true;
            loop {
                loop {
                    let in_known = known.is_some_and(|k| sent < k);
                    // Two on the wire where the chain is known or proven busy; a new or quiet
                    // one is read a batch at a time, so it is read no further than the gap.
                    let depth = if in_known || size > scan {
                        READS_IN_FLIGHT
                    } else {
                        1
                    };
                    if !more || in_flight.len() >= depth || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let take = match known {
                        Some(k) if in_known => (k - sent).min(MAX_BATCH),
                        _ => size,
                    };
                    let next: Vec<(u32, ScriptBuf)> = self.spks.by_ref().take(take).collect();
                    sent += next.len();
                    if next.is_empty() {
                        more = false;
                        break;
                    }
                    in_flight.push_back((
                        in_known,
                        s.spawn(move || {
                            let scripts: Vec<&Script> =
                                next.iter().map(|(_, s)| s.as_script()).collect();
                            let histories = client.histories_kept(&scripts);
                            (next, histories)
                        }),
                    ));
                }
                let Some((in_known, read)) = in_flight.pop_front() else {
                    return Ok((confirmed, derived));
                };
                let (next, histories) = read
                    .join()
                    .map_err(|_| Error::Message("a history read stopped".into()))?;
                let histories = histories?;
                if !in_known && histories.iter().any(|h| !h.is_empty()) {
                    size = (size * 2).min(MAX_DISCOVERY);
                }
                for ((index, _), history) in next.iter().zip(histories) {
                    if !history.is_empty() {
                        unused = 0;
                    } else if self.last_revealed.is_none_or(|last| *index > last) {
                        unused += 1;
                        if unused >= stop_gap {
                            // What is still in flight is answered and kept; nothing more
                            // is sent.
                            derived.extend(next);
                            return Ok((confirmed, derived));
                        }
                    }
                    confirmed.extend(history.iter().filter_map(|h| {
                        let height = u32::try_from(h.height).ok().filter(|h| *h > 0)?;
                        is_deep(height, tip).then_some((h.tx_hash, height))
                    }));
                }
                derived.extend(next);
            }
        })
    }
}

/// Whether a block at `height` is deep enough below `tip` to be taken without a proof.
fn is_deep(height: u32, tip: u32) -> bool {
    height
        .checked_add(PROOF_DEPTH)
        .is_some_and(|h| h <= tip.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_confirmations_and_more_are_deep() {
        // At tip 100, a block at 95 has 6 confirmations, one at 96 has 5.
        assert!(is_deep(95, 100));
        assert!(!is_deep(96, 100));
        assert!(!is_deep(100, 100));
        assert!(!is_deep(5, 3), "a height above the tip is never deep");
        assert!(!is_deep(u32::MAX, u32::MAX));
    }
}
