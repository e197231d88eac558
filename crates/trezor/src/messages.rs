//! The protobuf messages Coldlink exchanges with Trezor and KeepKey devices, written by hand
//! from the public protocol (field numbers and types as the firmware defines them; proto2, so
//! repeated numbers are unpacked and absent optionals stay absent on the wire).
//!
//! Only the messages Coldlink uses are here. Each has its wire type number through
//! [`Wire::TYPE`]; the numbers are Trezor's `MessageType` enum. KeepKey shares the common and
//! Bitcoin numbers; see [`keepkey`] for where it differs.

use prost::Message;

/// A message with its wire type number.
pub trait Wire: Message + Default {
    /// Trezor's `MessageType` number.
    const TYPE: u16;
}

macro_rules! wire {
    ($($ty:ident = $n:expr),* $(,)?) => {
        $(impl Wire for $ty { const TYPE: u16 = $n; })*
        /// The name of a message type, for logs and errors.
        pub fn type_name(t: u16) -> Option<&'static str> {
            match t { $($n => Some(stringify!($ty)),)* _ => None }
        }
    };
}

wire! {
    Initialize = 0,
    Ping = 1,
    Success = 2,
    Failure = 3,
    GetPublicKey = 11,
    PublicKey = 12,
    SignTx = 15,
    Features = 17,
    PinMatrixRequest = 18,
    PinMatrixAck = 19,
    Cancel = 20,
    TxRequest = 21,
    TxAck = 22,
    LockDevice = 24,
    ButtonRequest = 26,
    ButtonAck = 27,
    GetAddress = 29,
    Address = 30,
    PassphraseRequest = 41,
    PassphraseAck = 42,
    GetFeatures = 55,
    EthereumGetAddress = 56,
    EthereumAddress = 57,
    EthereumSignTx = 58,
    EthereumTxRequest = 59,
    EthereumTxAck = 60,
    EthereumSignMessage = 64,
    EthereumMessageSignature = 66,
    EndSession = 83,
    EthereumSignTxEip1559 = 452,
}

/// KeepKey's Ethereum messages, whose numbers or field layouts differ from Trezor's
/// (KeepKey's `messages-ethereum.proto`): the address travels as 20 raw bytes, EthereumSignTx
/// carries `to` as bytes, a 32-bit chain id and, with `type` 2, the EIP-1559 fees; message
/// signing has its own type numbers. There is no separate EIP-1559 message.
pub mod keepkey {
    use prost::Message;

    use super::Wire;

    /// KeepKey's EthereumAddress (57).
    #[derive(Clone, PartialEq, Message)]
    pub struct EthereumAddress {
        /// 20 raw bytes.
        #[prost(bytes = "vec", optional, tag = "1")]
        pub address: Option<Vec<u8>>,
        /// Text form, when sent.
        #[prost(string, optional, tag = "2")]
        pub address_str: Option<String>,
    }

    /// KeepKey's EthereumSignTx (58).
    #[derive(Clone, PartialEq, Message)]
    pub struct EthereumSignTx {
        /// BIP32 path.
        #[prost(uint32, repeated, packed = "false", tag = "1")]
        pub address_n: Vec<u32>,
        /// Big-endian.
        #[prost(bytes = "vec", optional, tag = "2")]
        pub nonce: Option<Vec<u8>>,
        /// Big-endian (legacy).
        #[prost(bytes = "vec", optional, tag = "3")]
        pub gas_price: Option<Vec<u8>>,
        /// Big-endian.
        #[prost(bytes = "vec", optional, tag = "4")]
        pub gas_limit: Option<Vec<u8>>,
        /// 20 raw bytes; empty for contract creation.
        #[prost(bytes = "vec", optional, tag = "5")]
        pub to: Option<Vec<u8>>,
        /// Big-endian.
        #[prost(bytes = "vec", optional, tag = "6")]
        pub value: Option<Vec<u8>>,
        /// Up to 1024 bytes of data.
        #[prost(bytes = "vec", optional, tag = "7")]
        pub data_initial_chunk: Option<Vec<u8>>,
        /// Total data length.
        #[prost(uint32, optional, tag = "8")]
        pub data_length: Option<u32>,
        /// Chain id (32 bits on KeepKey).
        #[prost(uint32, optional, tag = "12")]
        pub chain_id: Option<u32>,
        /// EIP-1559 max fee per gas.
        #[prost(bytes = "vec", optional, tag = "13")]
        pub max_fee_per_gas: Option<Vec<u8>>,
        /// EIP-1559 priority fee.
        #[prost(bytes = "vec", optional, tag = "14")]
        pub max_priority_fee_per_gas: Option<Vec<u8>>,
        /// 0 legacy, 2 EIP-1559.
        #[prost(uint32, optional, tag = "104")]
        pub r#type: Option<u32>,
    }

    /// KeepKey's EthereumSignMessage (108).
    #[derive(Clone, PartialEq, Message)]
    pub struct EthereumSignMessage {
        /// BIP32 path.
        #[prost(uint32, repeated, packed = "false", tag = "1")]
        pub address_n: Vec<u32>,
        /// The message.
        #[prost(bytes = "vec", required, tag = "2")]
        pub message: Vec<u8>,
    }

    /// KeepKey's EthereumMessageSignature (110).
    #[derive(Clone, PartialEq, Message)]
    pub struct EthereumMessageSignature {
        /// 20 raw bytes.
        #[prost(bytes = "vec", optional, tag = "1")]
        pub address: Option<Vec<u8>>,
        /// r‖s‖v.
        #[prost(bytes = "vec", optional, tag = "2")]
        pub signature: Option<Vec<u8>>,
    }

    impl Wire for EthereumAddress {
        const TYPE: u16 = 57;
    }
    impl Wire for EthereumSignTx {
        const TYPE: u16 = 58;
    }
    impl Wire for EthereumSignMessage {
        const TYPE: u16 = 108;
    }
    impl Wire for EthereumMessageSignature {
        const TYPE: u16 = 110;
    }
}

// ---- common -------------------------------------------------------------------------------

/// Starts a session; the device answers with [`Features`].
#[derive(Clone, PartialEq, Message)]
pub struct Initialize {
    /// Resume this session (its cached passphrase), if the device still has it.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub session_id: Option<Vec<u8>>,
}

/// Asks for [`Features`] without resetting the session.
#[derive(Clone, PartialEq, Message)]
pub struct GetFeatures {}

/// What the device is and what state it is in.
#[derive(Clone, PartialEq, Message)]
pub struct Features {
    /// "trezor.io", "keepkey.com".
    #[prost(string, optional, tag = "1")]
    pub vendor: Option<String>,
    /// Firmware version.
    #[prost(uint32, required, tag = "2")]
    pub major_version: u32,
    /// Firmware version.
    #[prost(uint32, required, tag = "3")]
    pub minor_version: u32,
    /// Firmware version.
    #[prost(uint32, required, tag = "4")]
    pub patch_version: u32,
    /// In the bootloader, not the firmware.
    #[prost(bool, optional, tag = "5")]
    pub bootloader_mode: Option<bool>,
    /// A per-device serial.
    #[prost(string, optional, tag = "6")]
    pub device_id: Option<String>,
    /// A PIN is set.
    #[prost(bool, optional, tag = "7")]
    pub pin_protection: Option<bool>,
    /// Passphrases are enabled.
    #[prost(bool, optional, tag = "8")]
    pub passphrase_protection: Option<bool>,
    /// Interface language.
    #[prost(string, optional, tag = "9")]
    pub language: Option<String>,
    /// The name the owner gave it.
    #[prost(string, optional, tag = "10")]
    pub label: Option<String>,
    /// Holds a seed.
    #[prost(bool, optional, tag = "12")]
    pub initialized: Option<bool>,
    /// Firmware commit.
    #[prost(bytes = "vec", optional, tag = "13")]
    pub revision: Option<Vec<u8>>,
    /// The PIN has been entered (or none is set).
    #[prost(bool, optional, tag = "16")]
    pub unlocked: Option<bool>,
    /// "1" (Trezor One), "T", "Safe 3" ("T2B1"/"T3B1"), "Safe 5" ("T3T1"); KeepKey reports its own.
    #[prost(string, optional, tag = "21")]
    pub model: Option<String>,
    /// The current session, to resume it with [`Initialize::session_id`].
    #[prost(bytes = "vec", optional, tag = "35")]
    pub session_id: Option<Vec<u8>>,
    /// The passphrase is always typed on the device.
    #[prost(bool, optional, tag = "36")]
    pub passphrase_always_on_device: Option<bool>,
    /// Internal model code ("T2T1", "T1B1", …).
    #[prost(string, optional, tag = "44")]
    pub internal_model: Option<String>,
}

/// Liveness check; the device answers [`Success`] with the same message.
#[derive(Clone, PartialEq, Message)]
pub struct Ping {
    /// Echoed back.
    #[prost(string, optional, tag = "1")]
    pub message: Option<String>,
    /// Ask the user to confirm first.
    #[prost(bool, optional, tag = "2")]
    pub button_protection: Option<bool>,
}

/// The request succeeded.
#[derive(Clone, PartialEq, Message)]
pub struct Success {
    /// Human-readable detail.
    #[prost(string, optional, tag = "1")]
    pub message: Option<String>,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum FailureType {
    /// Message not expected now.
    UnexpectedMessage = 1,
    /// A button press was expected.
    ButtonExpected = 2,
    /// The request's data is invalid.
    DataError = 3,
    /// The user cancelled (or the host sent Cancel).
    ActionCancelled = 4,
    /// A PIN was expected.
    PinExpected = 5,
    /// PIN entry cancelled.
    PinCancelled = 6,
    /// Wrong PIN.
    PinInvalid = 7,
    /// A signature did not verify.
    InvalidSignature = 8,
    /// Anything else.
    ProcessError = 9,
    /// Not enough funds.
    NotEnoughFunds = 10,
    /// No seed on the device.
    NotInitialized = 11,
    /// The two new PINs differ.
    PinMismatch = 12,
    /// Wipe codes differ.
    WipeCodeMismatch = 13,
    /// The session is gone.
    InvalidSession = 14,
    /// Firmware fault.
    FirmwareError = 99,
}

/// The request failed.
#[derive(Clone, PartialEq, Message)]
pub struct Failure {
    /// Why.
    #[prost(enumeration = "FailureType", optional, tag = "1")]
    pub code: Option<i32>,
    /// The device's words.
    #[prost(string, optional, tag = "2")]
    pub message: Option<String>,
}

/// Stops the current operation.
#[derive(Clone, PartialEq, Message)]
pub struct Cancel {}

/// Locks the device (PIN needed again).
#[derive(Clone, PartialEq, Message)]
pub struct LockDevice {}

/// Ends the session (forgets the passphrase).
#[derive(Clone, PartialEq, Message)]
pub struct EndSession {}

/// What a confirmation screen is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ButtonRequestType {
    /// Anything else.
    Other = 1,
    /// The fee is high.
    FeeOverThreshold = 2,
    /// An output.
    ConfirmOutput = 3,
    /// Device setup.
    ResetDevice = 4,
    /// A backup word.
    ConfirmWord = 5,
    /// Wiping.
    WipeDevice = 6,
    /// A protected call (e.g. Ping with button protection).
    ProtectCall = 7,
    /// The transaction total.
    SignTx = 8,
    /// Firmware check.
    FirmwareCheck = 9,
    /// An address.
    Address = 10,
    /// A public key.
    PublicKey = 11,
    /// The passphrase is being typed on the device.
    PassphraseEntry = 19,
    /// The PIN is being typed on the device.
    PinEntry = 20,
}

/// The device waits for a button; the host answers [`ButtonAck`].
#[derive(Clone, PartialEq, Message)]
pub struct ButtonRequest {
    /// What is on screen.
    #[prost(enumeration = "ButtonRequestType", optional, tag = "1")]
    pub code: Option<i32>,
    /// Number of pages, for paginated screens.
    #[prost(uint32, optional, tag = "2")]
    pub pages: Option<u32>,
}

/// The host lets the device wait for its button.
#[derive(Clone, PartialEq, Message)]
pub struct ButtonAck {}

/// Which PIN the matrix asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PinMatrixRequestType {
    /// The current PIN.
    Current = 1,
    /// A new PIN.
    NewFirst = 2,
    /// The new PIN again.
    NewSecond = 3,
}

/// Trezor One / KeepKey: enter the PIN on the scrambled pad shown on the device.
#[derive(Clone, PartialEq, Message)]
pub struct PinMatrixRequest {
    /// Which PIN.
    #[prost(enumeration = "PinMatrixRequestType", optional, tag = "1")]
    pub r#type: Option<i32>,
}

/// The positions (1–9, keypad layout) the user clicked, as ASCII digits.
#[derive(Clone, PartialEq, Message)]
pub struct PinMatrixAck {
    /// Positions, not PIN digits.
    #[prost(string, required, tag = "1")]
    pub pin: String,
}

/// The device wants the passphrase (field 1, an old "on device" flag, is retired).
#[derive(Clone, PartialEq, Message)]
pub struct PassphraseRequest {}

/// The passphrase (the empty one is sent as ""), or "type it on the device" with no
/// passphrase field; never both.
#[derive(Clone, PartialEq, Message)]
pub struct PassphraseAck {
    /// The passphrase typed in the host.
    #[prost(string, optional, tag = "1")]
    pub passphrase: Option<String>,
    /// Enter it on the device instead.
    #[prost(bool, optional, tag = "3")]
    pub on_device: Option<bool>,
}

impl zeroize::Zeroize for PinMatrixAck {
    fn zeroize(&mut self) {
        self.pin.zeroize();
    }
}

impl zeroize::Zeroize for PassphraseAck {
    fn zeroize(&mut self) {
        if let Some(p) = self.passphrase.as_mut() {
            p.zeroize();
        }
    }
}

/// A BIP32 node.
#[derive(Clone, PartialEq, Message)]
pub struct HdNodeType {
    /// Depth.
    #[prost(uint32, required, tag = "1")]
    pub depth: u32,
    /// Parent fingerprint.
    #[prost(uint32, required, tag = "2")]
    pub fingerprint: u32,
    /// Child number.
    #[prost(uint32, required, tag = "3")]
    pub child_num: u32,
    /// Chain code (32 bytes).
    #[prost(bytes = "vec", required, tag = "4")]
    pub chain_code: Vec<u8>,
    /// Never sent by Coldlink and never accepted from a device.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub private_key: Option<Vec<u8>>,
    /// Compressed public key (33 bytes).
    #[prost(bytes = "vec", required, tag = "6")]
    pub public_key: Vec<u8>,
}

// ---- Bitcoin -------------------------------------------------------------------------------

/// How an input is spent (and so which address or key form is meant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum InputScriptType {
    /// P2PKH.
    SpendAddress = 0,
    /// P2SH multisig.
    SpendMultisig = 1,
    /// Not ours.
    External = 2,
    /// P2WPKH.
    SpendWitness = 3,
    /// P2SH-P2WPKH.
    SpendP2shWitness = 4,
    /// P2TR key path.
    SpendTaproot = 5,
}

/// How an output is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum OutputScriptType {
    /// To an address (or our P2PKH change).
    PayToAddress = 0,
    /// P2SH.
    PayToScriptHash = 1,
    /// Multisig change.
    PayToMultisig = 2,
    /// OP_RETURN data.
    PayToOpReturn = 3,
    /// Our P2WPKH change.
    PayToWitness = 4,
    /// Our P2SH-P2WPKH change.
    PayToP2shWitness = 5,
    /// Our P2TR change.
    PayToTaproot = 6,
}

/// The public key at a path.
#[derive(Clone, PartialEq, Message)]
pub struct GetPublicKey {
    /// BIP32 path, hardened indexes with the top bit set.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Show it on the device.
    #[prost(bool, optional, tag = "3")]
    pub show_display: Option<bool>,
    /// "Bitcoin", "Testnet", "Regtest".
    #[prost(string, optional, tag = "4")]
    pub coin_name: Option<String>,
    /// Chooses the SLIP-132 prefix unless `ignore_xpub_magic`.
    #[prost(enumeration = "InputScriptType", optional, tag = "5")]
    pub script_type: Option<i32>,
    /// Always answer with plain xpub/tpub.
    #[prost(bool, optional, tag = "6")]
    pub ignore_xpub_magic: Option<bool>,
}

/// Answer to [`GetPublicKey`].
#[derive(Clone, PartialEq, Message)]
pub struct PublicKey {
    /// The node.
    #[prost(message, required, tag = "1")]
    pub node: HdNodeType,
    /// Its serialisation.
    #[prost(string, required, tag = "2")]
    pub xpub: String,
    /// Master fingerprint (new firmware).
    #[prost(uint32, optional, tag = "3")]
    pub root_fingerprint: Option<u32>,
}

/// An address at a path.
#[derive(Clone, PartialEq, Message)]
pub struct GetAddress {
    /// BIP32 path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Coin name.
    #[prost(string, optional, tag = "2")]
    pub coin_name: Option<String>,
    /// Show it on the device.
    #[prost(bool, optional, tag = "3")]
    pub show_display: Option<bool>,
    /// Address type.
    #[prost(enumeration = "InputScriptType", optional, tag = "5")]
    pub script_type: Option<i32>,
}

/// Answer to [`GetAddress`].
#[derive(Clone, PartialEq, Message)]
pub struct Address {
    /// The address.
    #[prost(string, required, tag = "1")]
    pub address: String,
}

/// Starts signing; the device then asks for each piece with [`TxRequest`].
#[derive(Clone, PartialEq, Message)]
pub struct SignTx {
    /// Number of outputs.
    #[prost(uint32, required, tag = "1")]
    pub outputs_count: u32,
    /// Number of inputs.
    #[prost(uint32, required, tag = "2")]
    pub inputs_count: u32,
    /// Coin name.
    #[prost(string, optional, tag = "3")]
    pub coin_name: Option<String>,
    /// Transaction version.
    #[prost(uint32, optional, tag = "4")]
    pub version: Option<u32>,
    /// Lock time.
    #[prost(uint32, optional, tag = "5")]
    pub lock_time: Option<u32>,
}

/// What the device asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum RequestType {
    /// An input (of ours, or of a previous transaction when `tx_hash` is set).
    TxInput = 0,
    /// An output (ours, or a previous transaction's binary output).
    TxOutput = 1,
    /// A previous transaction's version, counts and lock time.
    TxMeta = 2,
    /// Done.
    TxFinished = 3,
    /// Extra data of a previous transaction (not for Bitcoin).
    TxExtraData = 4,
}

/// Which piece is wanted.
#[derive(Clone, PartialEq, Message)]
pub struct TxRequestDetailsType {
    /// Index of the input or output.
    #[prost(uint32, optional, tag = "1")]
    pub request_index: Option<u32>,
    /// Set when a previous transaction's piece is wanted.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub tx_hash: Option<Vec<u8>>,
    /// Extra-data length.
    #[prost(uint32, optional, tag = "3")]
    pub extra_data_len: Option<u32>,
    /// Extra-data offset.
    #[prost(uint32, optional, tag = "4")]
    pub extra_data_offset: Option<u32>,
}

/// Results streamed back while signing.
#[derive(Clone, PartialEq, Message)]
pub struct TxRequestSerializedType {
    /// Which input `signature` is for.
    #[prost(uint32, optional, tag = "1")]
    pub signature_index: Option<u32>,
    /// DER (ECDSA) or 64/65-byte Schnorr signature.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub signature: Option<Vec<u8>>,
    /// The next piece of the serialised signed transaction.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub serialized_tx: Option<Vec<u8>>,
}

/// The device's next request, with results so far.
#[derive(Clone, PartialEq, Message)]
pub struct TxRequest {
    /// What it wants.
    #[prost(enumeration = "RequestType", optional, tag = "1")]
    pub request_type: Option<i32>,
    /// Which one.
    #[prost(message, optional, tag = "2")]
    pub details: Option<TxRequestDetailsType>,
    /// Signatures and serialised pieces.
    #[prost(message, optional, tag = "3")]
    pub serialized: Option<TxRequestSerializedType>,
}

/// An input being signed (ours: `address_n` set) or of a previous transaction.
#[derive(Clone, PartialEq, Message)]
pub struct TxInputType {
    /// Our key's path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Previous txid, in display (big-endian) order.
    #[prost(bytes = "vec", required, tag = "2")]
    pub prev_hash: Vec<u8>,
    /// Previous output index.
    #[prost(uint32, required, tag = "3")]
    pub prev_index: u32,
    /// scriptSig of a previous transaction's input.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub script_sig: Option<Vec<u8>>,
    /// nSequence.
    #[prost(uint32, optional, tag = "5")]
    pub sequence: Option<u32>,
    /// How it is spent.
    #[prost(enumeration = "InputScriptType", optional, tag = "6")]
    pub script_type: Option<i32>,
    /// Value of the spent output, in satoshis.
    #[prost(uint64, optional, tag = "8")]
    pub amount: Option<u64>,
    /// Witness of an external input.
    #[prost(bytes = "vec", optional, tag = "13")]
    pub witness: Option<Vec<u8>>,
    /// scriptPubKey of an external input.
    #[prost(bytes = "vec", optional, tag = "19")]
    pub script_pubkey: Option<Vec<u8>>,
}

/// An output being signed: to an address, or change to our path.
#[derive(Clone, PartialEq, Message)]
pub struct TxOutputType {
    /// Destination address.
    #[prost(string, optional, tag = "1")]
    pub address: Option<String>,
    /// Our change path (the device then does not ask the user about it).
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    pub address_n: Vec<u32>,
    /// Satoshis.
    #[prost(uint64, required, tag = "3")]
    pub amount: u64,
    /// How it is paid.
    #[prost(enumeration = "OutputScriptType", optional, tag = "4")]
    pub script_type: Option<i32>,
    /// OP_RETURN payload.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub op_return_data: Option<Vec<u8>>,
}

/// A previous transaction's output.
#[derive(Clone, PartialEq, Message)]
pub struct TxOutputBinType {
    /// Satoshis.
    #[prost(uint64, required, tag = "1")]
    pub amount: u64,
    /// scriptPubKey.
    #[prost(bytes = "vec", required, tag = "2")]
    pub script_pubkey: Vec<u8>,
}

/// The piece the device asked for (one input, one output or the meta at a time).
#[derive(Clone, PartialEq, Message)]
pub struct TransactionType {
    /// Version (meta).
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// One input.
    #[prost(message, repeated, tag = "2")]
    pub inputs: Vec<TxInputType>,
    /// One previous-transaction output.
    #[prost(message, repeated, tag = "3")]
    pub bin_outputs: Vec<TxOutputBinType>,
    /// Lock time (meta).
    #[prost(uint32, optional, tag = "4")]
    pub lock_time: Option<u32>,
    /// One output being signed.
    #[prost(message, repeated, tag = "5")]
    pub outputs: Vec<TxOutputType>,
    /// Input count (meta).
    #[prost(uint32, optional, tag = "6")]
    pub inputs_cnt: Option<u32>,
    /// Output count (meta).
    #[prost(uint32, optional, tag = "7")]
    pub outputs_cnt: Option<u32>,
    /// Extra data length (meta; 0 for Bitcoin).
    #[prost(uint32, optional, tag = "9")]
    pub extra_data_len: Option<u32>,
}

/// The host's answer to a [`TxRequest`].
#[derive(Clone, PartialEq, Message)]
pub struct TxAck {
    /// The piece.
    #[prost(message, optional, tag = "1")]
    pub tx: Option<TransactionType>,
}

// ---- Ethereum ------------------------------------------------------------------------------

/// The Ethereum address at a path.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumGetAddress {
    /// BIP32 path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Show it on the device.
    #[prost(bool, optional, tag = "2")]
    pub show_display: Option<bool>,
}

/// Answer to [`EthereumGetAddress`].
#[derive(Clone, PartialEq, Message)]
pub struct EthereumAddress {
    /// 20 raw bytes (old firmware).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub old_address: Option<Vec<u8>>,
    /// EIP-55 text.
    #[prost(string, optional, tag = "2")]
    pub address: Option<String>,
}

/// A legacy (EIP-155) transaction; data beyond the first chunk follows by [`EthereumTxAck`].
#[derive(Clone, PartialEq, Message)]
pub struct EthereumSignTx {
    /// BIP32 path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Big-endian, no leading zeros.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub nonce: Option<Vec<u8>>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "3")]
    pub gas_price: Vec<u8>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "4")]
    pub gas_limit: Vec<u8>,
    /// Big-endian.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub value: Option<Vec<u8>>,
    /// Up to 1024 bytes of data.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub data_initial_chunk: Option<Vec<u8>>,
    /// Total data length.
    #[prost(uint32, optional, tag = "8")]
    pub data_length: Option<u32>,
    /// EIP-155 chain id.
    #[prost(uint64, required, tag = "9")]
    pub chain_id: u64,
    /// Wanchain only.
    #[prost(uint32, optional, tag = "10")]
    pub tx_type: Option<u32>,
    /// Recipient, hex; empty for contract creation.
    #[prost(string, optional, tag = "11")]
    pub to: Option<String>,
}

/// One access-list entry.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumAccessList {
    /// Address, hex.
    #[prost(string, required, tag = "1")]
    pub address: String,
    /// Storage keys.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub storage_keys: Vec<Vec<u8>>,
}

/// An EIP-1559 transaction.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumSignTxEip1559 {
    /// BIP32 path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "2")]
    pub nonce: Vec<u8>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "3")]
    pub max_gas_fee: Vec<u8>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "4")]
    pub max_priority_fee: Vec<u8>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "5")]
    pub gas_limit: Vec<u8>,
    /// Recipient, hex; empty for contract creation.
    #[prost(string, optional, tag = "6")]
    pub to: Option<String>,
    /// Big-endian.
    #[prost(bytes = "vec", required, tag = "7")]
    pub value: Vec<u8>,
    /// Up to 1024 bytes of data.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub data_initial_chunk: Option<Vec<u8>>,
    /// Total data length.
    #[prost(uint32, required, tag = "9")]
    pub data_length: u32,
    /// Chain id.
    #[prost(uint64, required, tag = "10")]
    pub chain_id: u64,
    /// Access list.
    #[prost(message, repeated, tag = "11")]
    pub access_list: Vec<EthereumAccessList>,
}

/// The device wants more data, or returns the signature.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumTxRequest {
    /// Bytes of data wanted next.
    #[prost(uint32, optional, tag = "1")]
    pub data_length: Option<u32>,
    /// v (legacy: with EIP-155 chain id; typed: y-parity).
    #[prost(uint32, optional, tag = "2")]
    pub signature_v: Option<u32>,
    /// r.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub signature_r: Option<Vec<u8>>,
    /// s.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub signature_s: Option<Vec<u8>>,
}

/// The next data chunk.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumTxAck {
    /// Up to the length asked for.
    #[prost(bytes = "vec", required, tag = "1")]
    pub data_chunk: Vec<u8>,
}

/// An EIP-191 personal message.
#[derive(Clone, PartialEq, Message)]
pub struct EthereumSignMessage {
    /// BIP32 path.
    #[prost(uint32, repeated, packed = "false", tag = "1")]
    pub address_n: Vec<u32>,
    /// The message.
    #[prost(bytes = "vec", required, tag = "2")]
    pub message: Vec<u8>,
}

/// Answer to [`EthereumSignMessage`].
#[derive(Clone, PartialEq, Message)]
pub struct EthereumMessageSignature {
    /// r‖s‖v, v = 27/28.
    #[prost(bytes = "vec", required, tag = "2")]
    pub signature: Vec<u8>,
    /// The signing address.
    #[prost(string, required, tag = "3")]
    pub address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unpacked_as_proto2_requires() {
        // Field 1, wire type 0 per element: 0x08 <varint> repeated, not one 0x0a block.
        let m = GetPublicKey {
            address_n: vec![0x8000_0054, 0],
            ..Default::default()
        };
        let b = m.encode_to_vec();
        assert_eq!(&b[..6], &[0x08, 0xd4, 0x80, 0x80, 0x80, 0x08]);
        assert_eq!(&b[6..], &[0x08, 0x00]);
    }

    #[test]
    fn absent_optionals_are_absent_on_the_wire() {
        assert!(Initialize::default().encode_to_vec().is_empty());
        let f = Features {
            major_version: 2,
            minor_version: 8,
            patch_version: 1,
            ..Default::default()
        };
        assert_eq!(f.encode_to_vec(), vec![0x10, 2, 0x18, 8, 0x20, 1]);
    }

    #[test]
    fn truncated_or_garbled_messages_are_errors_not_panics() {
        for junk in [
            &[0xff_u8][..],
            &[0x0a, 0x05, 1],
            &[0x08],
            &[0x12, 0x09, b'x'],
        ] {
            assert!(Features::decode(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn type_numbers_name_their_messages() {
        assert_eq!(type_name(17), Some("Features"));
        assert_eq!(type_name(452), Some("EthereumSignTxEip1559"));
        assert_eq!(type_name(9999), None);
    }
}
