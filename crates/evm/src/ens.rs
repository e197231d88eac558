//! ENS names ("alice.eth") to addresses, the way every wallet resolves them (EIP-137): the
//! name's namehash, the registry's `resolver(node)`, then that resolver's `addr(node)`. Only
//! names of plain ASCII letters, digits and hyphens are resolved (lower-cased); anything else
//! is refused rather than normalised wrongly.

use alloy_primitives::{address, keccak256, Address, Bytes, B256};
use alloy_sol_types::{sol, SolCall};

use crate::{erc20::call_params, rpc::Rpc, EvmError};

/// The ENS registry on Ethereum mainnet.
pub const MAINNET_REGISTRY: Address = address!("00000000000C2E074eC69A0dFb2997BA6C7d2e1e");

sol! {
    function resolver(bytes32 node) external view returns (address);
    function addr(bytes32 node) external view returns (address);
}

/// Whether `text` looks like an ENS name rather than an address.
pub fn is_name(text: &str) -> bool {
    let t = text.trim();
    !t.starts_with("0x") && t.contains('.')
}

/// EIP-137 namehash of a (checked, lower-cased) name.
pub fn namehash(name: &str) -> Result<B256, EvmError> {
    let name = name.trim().to_ascii_lowercase();
    let mut node = B256::ZERO;
    if name.is_empty() {
        return Ok(node);
    }
    for label in name.rsplit('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(EvmError::Invalid(format!(
                "“{name}” is not a name Coldlink can resolve (plain letters, digits and hyphens only)"
            )));
        }
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(node.as_slice());
        buf[32..].copy_from_slice(keccak256(label.as_bytes()).as_slice());
        node = keccak256(buf);
    }
    Ok(node)
}

fn call_address(rpc: &Rpc, to: Address, data: Vec<u8>) -> Result<Address, EvmError> {
    let out: Bytes = rpc.call("eth_call", call_params(to, data))?;
    resolverCall::abi_decode_returns(&out)
        .map_err(|e| EvmError::BadResponse(format!("ENS answer: {e}")))
}

/// The address `name` points to through `registry`; `None` if the name has none.
pub fn resolve(rpc: &Rpc, registry: Address, name: &str) -> Result<Option<Address>, EvmError> {
    let node = namehash(name)?;
    let resolver = call_address(rpc, registry, resolverCall { node }.abi_encode())?;
    if resolver == Address::ZERO {
        return Ok(None);
    }
    let a = call_address(rpc, resolver, addrCall { node }.abi_encode())?;
    Ok((a != Address::ZERO).then_some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namehash_matches_eip_137() {
        // The examples given in EIP-137.
        assert_eq!(namehash("").ok(), Some(B256::ZERO));
        assert_eq!(
            namehash("eth").expect("eth").to_string(),
            "0x93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
        );
        assert_eq!(
            namehash("foo.eth").expect("foo").to_string(),
            "0xde9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
        );
        assert_eq!(
            namehash("Foo.ETH").ok(),
            namehash("foo.eth").ok(),
            "case-insensitive"
        );
        for bad in ["a..eth", "é.eth", "a b.eth", ".eth"] {
            assert!(namehash(bad).is_err(), "{bad}");
        }
        assert!(is_name("vitalik.eth") && !is_name("0x73d0385F4d8E00C5e6504C6030F47BF6212736A8"));
    }
}
