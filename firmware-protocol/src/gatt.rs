//! Bluetooth Low Energy GATT layout of proprio's wearable.
//!
//! One custom 128-bit service shaped like the Nordic UART service carries the frame byte
//! stream in both directions, next to the standard Battery and Device Information services:
//!
//! | Service / characteristic | UUID | Properties |
//! |---|---|---|
//! | proprio service | [`PROPRIO_SERVICE_UUID`] `7b5e0001-3c1d-4d8e-9f6a-70726f70726f` | |
//! | ↳ TX: device → host frames | [`TX_CHARACTERISTIC_UUID`] `7b5e0002-3c1d-4d8e-9f6a-70726f70726f` | notify |
//! | ↳ RX: host → device frames | [`RX_CHARACTERISTIC_UUID`] `7b5e0003-3c1d-4d8e-9f6a-70726f70726f` | write, write without response |
//! | Battery service | [`BATTERY_SERVICE_UUID16`] `0x180F` | |
//! | ↳ Battery Level | [`BATTERY_LEVEL_UUID16`] `0x2A19` | read, notify |
//! | Device Information service | [`DEVICE_INFORMATION_SERVICE_UUID16`] `0x180A` | |
//! | ↳ Manufacturer Name String | [`MANUFACTURER_NAME_UUID16`] `0x2A29` | read |
//! | ↳ Model Number String | [`MODEL_NUMBER_UUID16`] `0x2A24` | read |
//! | ↳ Serial Number String | [`SERIAL_NUMBER_UUID16`] `0x2A25` | read |
//! | ↳ Firmware Revision String | [`FIRMWARE_REVISION_UUID16`] `0x2A26` | read |
//!
//! TX notifications and RX writes are plain chunks of the frame byte stream, exactly as on a
//! serial line: a frame may span several notifications and a notification may hold the end
//! of one frame and the start of the next. Never assume one frame per notification; feed
//! every chunk to a [`crate::Decoder`]. This works with any ATT MTU, including the default
//! 20-byte payloads ([`MIN_ATT_PAYLOAD`]).
//!
//! The 128-bit values are written here the way they are printed (most significant byte
//! first); BLE sends UUIDs little-endian, so a stack that wants the on-air bytes takes
//! `uuid.to_le_bytes()`. A 16-bit SIG UUID stands for a 128-bit one built on the Bluetooth
//! Base UUID, see [`sig_uuid`].

/// proprio's custom service: `7b5e0001-3c1d-4d8e-9f6a-70726f70726f`.
///
/// Advertise it so a host can find proprio devices. The last six bytes, `70 72 6f 70 72 6f`,
/// are ASCII `propro`, which makes the UUID easy to spot in a sniffer trace.
pub const PROPRIO_SERVICE_UUID: u128 = 0x7b5e0001_3c1d_4d8e_9f6a_70726f70726f;

/// TX characteristic, device → host: `7b5e0002-3c1d-4d8e-9f6a-70726f70726f`.
///
/// Notify only. Each notification carries the next chunk of the device's frame stream
/// ([`crate::DeviceMessage`] frames); chunk boundaries mean nothing.
pub const TX_CHARACTERISTIC_UUID: u128 = 0x7b5e0002_3c1d_4d8e_9f6a_70726f70726f;

/// RX characteristic, host → device: `7b5e0003-3c1d-4d8e-9f6a-70726f70726f`.
///
/// Write and write without response. Each write carries the next chunk of the host's frame
/// stream ([`crate::HostMessage`] frames); chunk boundaries mean nothing.
pub const RX_CHARACTERISTIC_UUID: u128 = 0x7b5e0003_3c1d_4d8e_9f6a_70726f70726f;

/// The standard Battery service (Bluetooth SIG assigned number `0x180F`).
pub const BATTERY_SERVICE_UUID16: u16 = 0x180F;

/// Battery Level characteristic (`0x2A19`): one byte, 0–100 %, read and notify.
pub const BATTERY_LEVEL_UUID16: u16 = 0x2A19;

/// The standard Device Information service (`0x180A`).
pub const DEVICE_INFORMATION_SERVICE_UUID16: u16 = 0x180A;

/// Manufacturer Name String characteristic (`0x2A29`), UTF-8, read.
pub const MANUFACTURER_NAME_UUID16: u16 = 0x2A29;

/// Model Number String characteristic (`0x2A24`), UTF-8, read.
pub const MODEL_NUMBER_UUID16: u16 = 0x2A24;

/// Serial Number String characteristic (`0x2A25`), UTF-8, read.
pub const SERIAL_NUMBER_UUID16: u16 = 0x2A25;

/// Firmware Revision String characteristic (`0x2A26`), UTF-8, read (e.g. `1.2.3`, matching
/// [`crate::DeviceInfo::firmware`]).
pub const FIRMWARE_REVISION_UUID16: u16 = 0x2A26;

/// The Bluetooth Base UUID, `00000000-0000-1000-8000-00805f9b34fb`, that 16-bit SIG UUIDs
/// abbreviate.
pub const BLUETOOTH_BASE_UUID: u128 = 0x00000000_0000_1000_8000_00805f9b34fb;

/// Notification / write payload with the default ATT MTU of 23 bytes: the smallest chunk
/// the byte stream may be cut into over BLE.
pub const MIN_ATT_PAYLOAD: usize = 20;

/// The full 128-bit form of a 16-bit SIG UUID: `0000xxxx-0000-1000-8000-00805f9b34fb`.
///
/// ```
/// use proprio_protocol::gatt::{sig_uuid, BATTERY_SERVICE_UUID16};
/// assert_eq!(sig_uuid(BATTERY_SERVICE_UUID16), 0x0000180f_0000_1000_8000_00805f9b34fb);
/// ```
pub const fn sig_uuid(uuid16: u16) -> u128 {
    BLUETOOTH_BASE_UUID | ((uuid16 as u128) << 96)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_uuids_share_a_base_and_differ_only_in_the_short_id() {
        let base_mask = !(0xFFFFu128 << 96);
        assert_eq!(
            PROPRIO_SERVICE_UUID & base_mask,
            TX_CHARACTERISTIC_UUID & base_mask
        );
        assert_eq!(
            PROPRIO_SERVICE_UUID & base_mask,
            RX_CHARACTERISTIC_UUID & base_mask
        );
        assert_eq!((PROPRIO_SERVICE_UUID >> 96) & 0xFFFF, 0x0001);
        assert_eq!((TX_CHARACTERISTIC_UUID >> 96) & 0xFFFF, 0x0002);
        assert_eq!((RX_CHARACTERISTIC_UUID >> 96) & 0xFFFF, 0x0003);
        // Not an abbreviation of a SIG UUID.
        assert_ne!(PROPRIO_SERVICE_UUID & base_mask, BLUETOOTH_BASE_UUID);
    }

    #[test]
    fn on_air_byte_order_is_little_endian() {
        let bytes = PROPRIO_SERVICE_UUID.to_le_bytes();
        assert_eq!(bytes[0], 0x6f);
        assert_eq!(bytes[15], 0x7b);
        assert_eq!(&bytes[..6], b"orporp");
    }

    #[test]
    fn sig_uuids_expand_on_the_base_uuid() {
        assert_eq!(
            sig_uuid(DEVICE_INFORMATION_SERVICE_UUID16),
            0x0000180a_0000_1000_8000_00805f9b34fb
        );
        assert_eq!(
            sig_uuid(BATTERY_LEVEL_UUID16),
            0x00002a19_0000_1000_8000_00805f9b34fb
        );
    }
}
