//! The shipped udev rules must grant access to every device discovery recognises, and to
//! nothing outside the vendors' wallet ids: a rule for a shared vendor id (pid.codes 0x1209,
//! Microchip 0x03eb) without a product id would open unrelated devices to the user.

use coldlink_types::{identify_usb, ConnectionKind, KNOWN_USB_VENDORS};

const RULES: &str = include_str!("../../../packaging/linux/51-coldlink-hardware-wallets.rules");

fn attr(line: &str, name: &str) -> Option<u16> {
    let key = format!("ATTRS{{{name}}}==\"");
    let start = line.find(&key)? + key.len();
    u16::from_str_radix(line.get(start..start + 4)?, 16).ok()
}

#[test]
fn every_recognised_wallet_is_covered() {
    let rules: Vec<(&str, u16, Option<u16>)> = RULES
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let vid = attr(l, "idVendor").expect("every rule names a vendor id");
            (l, vid, attr(l, "idProduct"))
        })
        .collect();
    assert!(rules.len() >= 10);
    let covers = |vid: u16, pid: u16, hidraw: bool| {
        rules.iter().any(|(l, v, p)| {
            *v == vid
                && p.is_none_or(|p| p == pid)
                && l.contains("uaccess")
                && (l.starts_with("KERNEL==\"hidraw*\"") == hidraw)
        })
    };
    let samples = [
        (0x2c97, 0x4011),
        (0x2c97, 0x5011),
        (0x534c, 0x0001),
        (0x1209, 0x53c1),
        (0x1209, 0x53c0),
        (0x2b24, 0x0001),
        (0x2b24, 0x0002),
        (0x03eb, 0x2403),
        (0xd13e, 0xcc10),
    ];
    for (vid, pid) in samples {
        let known = identify_usb(vid, pid, None).expect("sample is a wallet");
        assert!(covers(vid, pid, false), "usb rule for {vid:04x}:{pid:04x}");
        if known.connection == ConnectionKind::UsbHid {
            assert!(
                covers(vid, pid, true),
                "hidraw rule for {vid:04x}:{pid:04x}"
            );
        }
    }
    for (vid, _) in KNOWN_USB_VENDORS {
        assert!(rules.iter().any(|(_, v, _)| *v == vid), "{vid:04x}");
    }
}

#[test]
fn shared_vendor_ids_are_narrowed_to_wallet_products() {
    for line in RULES.lines().filter(|l| !l.starts_with('#')) {
        if let Some(vid) = attr(line, "idVendor") {
            if vid != 0x2c97 {
                let pid = attr(line, "idProduct").expect("non-Ledger rules name a product");
                assert!(identify_usb(vid, pid, None).is_some(), "{line}");
            }
        }
    }
}
