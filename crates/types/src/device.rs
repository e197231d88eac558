//! Hardware-wallet descriptors and the USB identities that recognise them.
//!
//! The USB vendor/product ids are public facts from the vendors' udev rules and host
//! libraries. A model that cannot be told apart by USB id alone (every Trezor on the WebUSB
//! id, BitBox02 Multi vs. Bitcoin-only) is refined later from what the device itself reports.

use serde::{Deserialize, Serialize};

use crate::Fingerprint;

/// Who made the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Ledger SAS.
    Ledger,
    /// SatoshiLabs (Trezor).
    Trezor,
    /// KeepKey (ShapeShift).
    Keepkey,
    /// Shift Crypto (BitBox02).
    Bitbox,
    /// Coinkite (Coldcard).
    Coldcard,
    /// Coldlink's own simulated devices.
    Coldlink,
}

/// A device model, as far as it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum Model {
    /// Ledger Nano S.
    LedgerNanoS,
    /// Ledger Nano X.
    LedgerNanoX,
    /// Ledger Nano S Plus.
    LedgerNanoSPlus,
    /// Ledger Stax.
    LedgerStax,
    /// Ledger Flex.
    LedgerFlex,
    /// A Ledger whose product id we do not know yet.
    LedgerUnknown,
    /// Trezor Model One (legacy HID id).
    TrezorOne,
    /// A Trezor on the shared WebUSB id: One (newer firmware), Model T or Safe; the device's
    /// Features message says which.
    Trezor,
    /// A Trezor in bootloader mode.
    TrezorBootloader,
    /// KeepKey.
    Keepkey,
    /// BitBox02 (Multi or Bitcoin-only; the product string says which).
    Bitbox02,
    /// BitBox02 Bitcoin-only edition.
    Bitbox02BtcOnly,
    /// Coldcard Mk3/Mk4/Q over USB.
    Coldcard,
}

impl Model {
    /// Name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Model::LedgerNanoS => "Ledger Nano S",
            Model::LedgerNanoX => "Ledger Nano X",
            Model::LedgerNanoSPlus => "Ledger Nano S Plus",
            Model::LedgerStax => "Ledger Stax",
            Model::LedgerFlex => "Ledger Flex",
            Model::LedgerUnknown => "Ledger",
            Model::TrezorOne => "Trezor Model One",
            Model::Trezor => "Trezor",
            Model::TrezorBootloader => "Trezor (bootloader)",
            Model::Keepkey => "KeepKey",
            Model::Bitbox02 => "BitBox02",
            Model::Bitbox02BtcOnly => "BitBox02 Bitcoin-only",
            Model::Coldcard => "Coldcard",
        }
    }
}

/// How Coldlink reaches the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum ConnectionKind {
    /// USB HID (Ledger, Trezor One legacy, KeepKey, BitBox02, Coldcard).
    UsbHid,
    /// USB vendor interface, "WebUSB" (Trezor, newer KeepKey firmware).
    WebUsb,
    /// Ledger's Speculos emulator: APDUs over TCP.
    SpeculosTcp,
    /// Trezor's emulator: 64-byte packets over UDP.
    TrezorEmulatorUdp,
}

/// Whether the device can be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum DeviceState {
    /// Seen and, as far as enumeration can tell, usable.
    Available,
    /// Seen, but the OS refused access: on Linux the udev rules are missing.
    NoPermission,
    /// Seen, but another program (Ledger Live, Trezor Suite/Bridge) holds it.
    Busy,
    /// Connected but locked: the user must enter the PIN on the device.
    Locked,
}

/// A USB vendor/product id pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct UsbIdentity {
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
}

/// One hardware wallet (or emulator endpoint) that discovery found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DeviceDescriptor {
    /// Stable key for this connection, also what `--device` takes: `hid:/dev/hidraw3`,
    /// `usb:1-4.2`, `speculos:127.0.0.1:9999`, `trezor-emu:127.0.0.1:21324`.
    pub id: String,
    /// Maker.
    pub vendor: Vendor,
    /// Model as far as known.
    pub model: Model,
    /// Name for people ("Ledger Nano X").
    pub model_name: String,
    /// Transport.
    pub connection: ConnectionKind,
    /// USB ids, when on USB.
    pub usb: Option<UsbIdentity>,
    /// The product string the device reports, if readable.
    pub product: Option<String>,
    /// Whether we can use it.
    pub state: DeviceState,
    /// Master-key fingerprint, once a signer has read it.
    pub fingerprint: Option<Fingerprint>,
    /// The app open on the device (Ledger), if known.
    pub app: Option<String>,
    /// That app's version.
    pub app_version: Option<String>,
    /// True for emulators and simulators: never a place for real funds.
    pub emulated: bool,
}

/// A recognised USB identity: who, which model, over which transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownUsbDevice {
    /// Maker.
    pub vendor: Vendor,
    /// Model.
    pub model: Model,
    /// Whether it is driven over HID or the vendor (WebUSB) interface.
    pub connection: ConnectionKind,
}

/// Vendor ids Coldlink recognises; the udev rules file grants access to exactly these.
pub const KNOWN_USB_VENDORS: [(u16, Vendor); 6] = [
    (0x2c97, Vendor::Ledger),
    (0x534c, Vendor::Trezor),
    (0x1209, Vendor::Trezor),
    (0x2b24, Vendor::Keepkey),
    (0x03eb, Vendor::Bitbox),
    (0xd13e, Vendor::Coldcard),
];

/// Recognises a hardware wallet by USB ids (and, for BitBox02, product string).
/// Returns `None` for everything else, including other devices of a shared vendor id
/// (0x1209 is pid.codes, 0x03eb is Microchip).
pub fn identify_usb(
    vendor_id: u16,
    product_id: u16,
    product: Option<&str>,
) -> Option<KnownUsbDevice> {
    use ConnectionKind::{UsbHid, WebUsb};
    let known = |vendor, model, connection| {
        Some(KnownUsbDevice {
            vendor,
            model,
            connection,
        })
    };
    match (vendor_id, product_id) {
        (0x2c97, pid) => known(Vendor::Ledger, ledger_model(pid), UsbHid),
        (0x534c, 0x0001) => known(Vendor::Trezor, Model::TrezorOne, UsbHid),
        (0x1209, 0x53c1) => known(Vendor::Trezor, Model::Trezor, WebUsb),
        (0x1209, 0x53c0) => known(Vendor::Trezor, Model::TrezorBootloader, WebUsb),
        (0x2b24, 0x0001) => known(Vendor::Keepkey, Model::Keepkey, UsbHid),
        (0x2b24, 0x0002) => known(Vendor::Keepkey, Model::Keepkey, WebUsb),
        (0x03eb, 0x2403) => {
            let btc_only = product.is_some_and(|p| p.contains("BTC"));
            let model = if btc_only {
                Model::Bitbox02BtcOnly
            } else {
                Model::Bitbox02
            };
            known(Vendor::Bitbox, model, UsbHid)
        }
        (0xd13e, 0xcc10) => known(Vendor::Coldcard, Model::Coldcard, UsbHid),
        _ => None,
    }
}

/// Every model [`identify_usb`] can recognise (what the Devices page can list), found by
/// asking it about each product id of the known vendors.
pub fn recognised_models() -> Vec<Model> {
    let mut found = Vec::new();
    let ledger = [0x1000, 0x4000, 0x5000, 0x6000, 0x7000];
    let others = [
        (0x534c, 0x0001),
        (0x1209, 0x53c1),
        (0x2b24, 0x0001),
        (0x2b24, 0x0002),
        (0x03eb, 0x2403),
        (0xd13e, 0xcc10),
    ];
    let ids = ledger.iter().map(|p| (0x2c97, *p)).chain(others);
    for (v, p) in ids {
        for product in [None, Some("BitBox02BTC")] {
            if let Some(k) = identify_usb(v, p, product) {
                if !found.contains(&k.model) {
                    found.push(k.model);
                }
            }
        }
    }
    found
}

/// Ledger encodes the model in the product id's high byte on current firmware, and used small
/// ids (0x0001 …) on old firmware and in the bootloader.
fn ledger_model(pid: u16) -> Model {
    let family = if pid >> 8 == 0 { pid << 4 } else { pid >> 8 };
    match family {
        0x10 => Model::LedgerNanoS,
        0x40 => Model::LedgerNanoX,
        0x50 => Model::LedgerNanoSPlus,
        0x60 => Model::LedgerStax,
        0x70 => Model::LedgerFlex,
        _ => Model::LedgerUnknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_vendor() {
        let m = |v, p, s| identify_usb(v, p, s).map(|k| (k.vendor, k.model, k.connection));
        use ConnectionKind::*;
        assert_eq!(
            m(0x2c97, 0x4011, None),
            Some((Vendor::Ledger, Model::LedgerNanoX, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x0004, None),
            Some((Vendor::Ledger, Model::LedgerNanoX, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x5011, None),
            Some((Vendor::Ledger, Model::LedgerNanoSPlus, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x1015, None),
            Some((Vendor::Ledger, Model::LedgerNanoS, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x6011, None),
            Some((Vendor::Ledger, Model::LedgerStax, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x7011, None),
            Some((Vendor::Ledger, Model::LedgerFlex, UsbHid))
        );
        assert_eq!(
            m(0x2c97, 0x9911, None),
            Some((Vendor::Ledger, Model::LedgerUnknown, UsbHid))
        );
        assert_eq!(
            m(0x534c, 0x0001, None),
            Some((Vendor::Trezor, Model::TrezorOne, UsbHid))
        );
        assert_eq!(
            m(0x1209, 0x53c1, None),
            Some((Vendor::Trezor, Model::Trezor, WebUsb))
        );
        assert_eq!(
            m(0x1209, 0x53c0, None),
            Some((Vendor::Trezor, Model::TrezorBootloader, WebUsb))
        );
        assert_eq!(
            m(0x2b24, 0x0002, None),
            Some((Vendor::Keepkey, Model::Keepkey, WebUsb))
        );
        assert_eq!(
            m(0x03eb, 0x2403, Some("BitBox02BTC")),
            Some((Vendor::Bitbox, Model::Bitbox02BtcOnly, UsbHid))
        );
        assert_eq!(
            m(0x03eb, 0x2403, Some("BitBox02")),
            Some((Vendor::Bitbox, Model::Bitbox02, UsbHid))
        );
        assert_eq!(
            m(0xd13e, 0xcc10, None),
            Some((Vendor::Coldcard, Model::Coldcard, UsbHid))
        );
    }

    #[test]
    fn ignores_unrelated_devices_on_shared_vendor_ids() {
        assert_eq!(identify_usb(0x1209, 0x0001, None), None);
        assert_eq!(identify_usb(0x03eb, 0x6124, None), None);
        assert_eq!(identify_usb(0x534c, 0x0002, None), None);
        assert_eq!(identify_usb(0x046d, 0xc52b, None), None);
    }

    #[test]
    fn every_known_vendor_id_identifies_something() {
        for (vid, vendor) in KNOWN_USB_VENDORS {
            let some_pid = match vid {
                0x2c97 => 0x4011,
                0x534c => 0x0001,
                0x1209 => 0x53c1,
                0x2b24 => 0x0001,
                0x03eb => 0x2403,
                _ => 0xcc10,
            };
            assert_eq!(
                identify_usb(vid, some_pid, None).map(|k| k.vendor),
                Some(vendor)
            );
        }
    }
}
