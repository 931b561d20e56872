//! WitMotion IMUs: the WT901BLECL over BLE and the WT901C / JY901 over serial.
//!
//! # WT901BLECL (BLE)
//! The notify characteristic carries a stream of 20-byte packets: `0x55 0x61`, then nine i16
//! little-endian values: acceleration x y z (÷32768 × 16 g), angular rate x y z
//! (÷32768 × 2000 °/s) and angles roll pitch yaw (÷32768 × 180 °). There is no checksum, and
//! packets may be split or merged across notifications, so [`WitmotionBleDecoder`] treats the
//! notifications as one byte stream and aligns on `55 61`.
//!
//! # WT901C / JY901 (serial)
//! 11-byte frames: `0x55`, a type byte, four i16 little-endian values and a checksum (the sum
//! of the first 10 bytes, modulo 256). Types used here: `0x51` acceleration (x y z,
//! temperature), `0x52` angular rate (x y z, voltage), `0x53` angles, `0x54` magnetic field
//! (x y z, temperature), `0x59` quaternion (÷32768). One output cycle is a burst of frames,
//! by default `0x51 0x52 0x53 0x54`; [`WitmotionSerialDecoder`] turns each burst into one
//! [`ImuSample`].
//!
//! # Commands
//! Both models take 5-byte register writes `FF AA reg lo hi`: [`unlock_command`], then e.g.
//! [`rate_command`], then [`save_command`].
//!
//! Neither model has a clock proprio can read: sample times come from the host's receive times
//! through [`HostClock`].

use proprio_protocol::{DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, ImuSample};

use super::stream::FormatStream;
use super::{FormatError, FormatStats, HostClock};

/// Length of one WT901BLECL packet, bytes.
pub const BLE_PACKET_LEN: usize = 20;

/// WT901BLECL data service, `0000ffe5-0000-1000-8000-00805f9a34fb` (note the `9a34fb`
/// ending: WitMotion's own base, not the Bluetooth SIG's `9b34fb`).
pub const BLE_SERVICE_UUID: u128 = 0x0000ffe5_0000_1000_8000_00805f9a34fb;
/// WT901BLECL notify characteristic (the packet stream), `0000ffe4-…-00805f9a34fb`.
pub const BLE_NOTIFY_UUID: u128 = 0x0000ffe4_0000_1000_8000_00805f9a34fb;
/// WT901BLECL write characteristic (register commands), `0000ffe9-…-00805f9a34fb`.
pub const BLE_WRITE_UUID: u128 = 0x0000ffe9_0000_1000_8000_00805f9a34fb;

/// Length of one WT901C / JY901 serial frame, bytes.
pub const SERIAL_FRAME_LEN: usize = 11;

/// Serial frame type: acceleration x y z and temperature.
pub const SERIAL_ACC: u8 = 0x51;
/// Serial frame type: angular rate x y z and voltage.
pub const SERIAL_GYRO: u8 = 0x52;
/// Serial frame type: angles roll pitch yaw and a version word.
pub const SERIAL_ANGLE: u8 = 0x53;
/// Serial frame type: magnetic field x y z and temperature.
pub const SERIAL_MAG: u8 = 0x54;
/// Serial frame type: quaternion q0..q3 (÷32768).
pub const SERIAL_QUATERNION: u8 = 0x59;

/// Accelerometer scale of both models: ±16 g over the i16 range, m/s² per count.
pub const ACC_M_S2_PER_LSB: f32 = (16.0 * 9.806_65 / 32_768.0) as f32;

/// Gyroscope scale of both models: ±2000 °/s over the i16 range, rad/s per count.
pub const GYR_RAD_S_PER_LSB: f32 = (2000.0 / 32_768.0 * std::f64::consts::PI / 180.0) as f32;

const BLE_HEADER: [u8; 2] = [0x55, 0x61];
const SERIAL_HEADER: u8 = 0x55;

// Encoders and commands ------------------------------------------------------------------------

/// A WT901BLECL data packet (`55 61` + acceleration, angular rate and angles, i16 LE), as the
/// device sends it. For the simulator and tests.
pub fn ble_packet(acc: [i16; 3], gyr: [i16; 3], angles: [i16; 3]) -> [u8; BLE_PACKET_LEN] {
    let mut packet = [0u8; BLE_PACKET_LEN];
    packet[0] = BLE_HEADER[0];
    packet[1] = BLE_HEADER[1];
    let values = acc.iter().chain(gyr.iter()).chain(angles.iter());
    for (slot, value) in packet[2..].chunks_exact_mut(2).zip(values) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    packet
}

/// A WT901C / JY901 serial frame of type `kind` (e.g. [`SERIAL_ACC`]) with its checksum.
pub fn serial_frame(kind: u8, values: [i16; 4]) -> [u8; SERIAL_FRAME_LEN] {
    let mut frame = [0u8; SERIAL_FRAME_LEN];
    frame[0] = SERIAL_HEADER;
    frame[1] = kind;
    for (slot, value) in frame[2..10].chunks_exact_mut(2).zip(values.iter()) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    frame[10] = checksum(&frame[..10]);
    frame
}

/// Unlocks the configuration registers (valid for about 10 s): `FF AA 69 88 B5`.
pub fn unlock_command() -> [u8; 5] {
    [0xFF, 0xAA, 0x69, 0x88, 0xB5]
}

/// Saves the current configuration to flash: `FF AA 00 00 00`.
pub fn save_command() -> [u8; 5] {
    [0xFF, 0xAA, 0x00, 0x00, 0x00]
}

/// Sets the output rate (register `0x03`): `FF AA 03 code 00`.
///
/// Supported: 0.2, 0.5, 1, 2, 5, 10 (the factory default), 20, 50, 100 and 200 Hz (codes
/// `0x01`–`0x09` and `0x0B`; `0x0A`, 125 Hz, exists on the WT931 only and is not offered).
/// `None` for any other rate. A low baud rate may make the device send less often than set.
pub fn rate_command(rate_hz: f32) -> Option<[u8; 5]> {
    const CODES: [(f32, u8); 10] = [
        (0.2, 0x01),
        (0.5, 0x02),
        (1.0, 0x03),
        (2.0, 0x04),
        (5.0, 0x05),
        (10.0, 0x06),
        (20.0, 0x07),
        (50.0, 0x08),
        (100.0, 0x09),
        (200.0, 0x0B),
    ];
    CODES
        .iter()
        .find(|(rate, _)| (rate - rate_hz).abs() < 1e-3)
        .map(|&(_, code)| [0xFF, 0xAA, 0x03, code, 0x00])
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

fn i16_at(bytes: &[u8], at: usize) -> i16 {
    match bytes.get(at..at + 2) {
        Some(&[lo, hi]) => i16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

fn imu_hello(rate_hz: f32, mag_ut_per_lsb: f32) -> DeviceMessage {
    DeviceMessage::Hello(DeviceInfo {
        kind: DeviceKind::Wearable,
        firmware: FirmwareVersion {
            major: 0,
            minor: 0,
            patch: 0,
        },
        device_id: 0,
        sample_rate_hz: rate_hz,
        acc_m_s2_per_lsb: ACC_M_S2_PER_LSB,
        gyr_rad_s_per_lsb: GYR_RAD_S_PER_LSB,
        mag_ut_per_lsb,
        load_n_per_count: 0.0,
    })
}

// WT901BLECL -----------------------------------------------------------------------------------

/// Decodes the WT901BLECL's BLE notification stream into [`DeviceMessage`]s.
///
/// The first message is a synthetic [`DeviceMessage::Hello`] (a wearable, firmware 0.0.0,
/// device id 0, the configured rate and the scales of the ±16 g / ±2000 °/s ranges; no
/// magnetometer); then one [`DeviceMessage::Imu`] per packet, `mag: None` (the angles are
/// not used: proprio runs its own orientation filter).
///
/// Alignment: the packets have no checksum, so the decoder relies on each packet being
/// followed directly by the next `55 61`. While aligned it accepts a packet as soon as its 20
/// bytes are in. When the bytes after a packet are not `55 61` it reports one
/// [`FormatError::Malformed`], discards up to the next `55 61` (counted in
/// `bytes_discarded`) and, until aligned again, accepts a candidate packet only once the
/// two bytes after it are `55 61` as well (a `55 61` inside data or garbage is then skipped).
/// A stream that does not start with `55 61` is handled the same way. A false `55 61`
/// directly after a packet cannot be told from a packet: it gives at most one wrong sample
/// before the decoder realigns.
#[derive(Debug, Clone)]
pub struct WitmotionBleDecoder {
    rate_hz: f32,
    stream: FormatStream,
    clock: HostClock,
    seq: u32,
}

impl WitmotionBleDecoder {
    /// A decoder for a device set to output `rate_hz` packets per second.
    pub fn new(rate_hz: f32) -> Self {
        WitmotionBleDecoder {
            rate_hz,
            stream: FormatStream::new(),
            clock: HostClock::new(rate_hz),
            seq: 0,
        }
    }

    /// The stream was interrupted (the link dropped): the queued partial packet is dropped and
    /// decoding realigns on the next packets.
    pub fn resync(&mut self) {
        self.stream.resync();
    }

    /// Queues bytes (one or more notifications, any split) received at `t_host_us`.
    pub fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        self.stream.push(bytes, t_host_us);
    }

    /// The next decoded message or rejection; `None` when the queued bytes hold no more.
    #[allow(clippy::should_implement_trait)] // not an Iterator: pushing more bytes revives it
    pub fn next(&mut self) -> Option<Result<DeviceMessage, FormatError>> {
        if self.stream.hello_due() {
            return Some(Ok(imu_hello(self.rate_hz, 0.0)));
        }
        loop {
            let data = self.stream.queue.data();
            if self.stream.in_sync {
                return match data {
                    [] | [0x55] => None,
                    [0x55, 0x61, ..] if data.len() < BLE_PACKET_LEN => None,
                    [0x55, 0x61, ..] => Some(Ok(self.take_packet())),
                    _ => {
                        self.stream.in_sync = false;
                        self.stream.stats.malformed += 1;
                        Some(Err(FormatError::Malformed))
                    }
                };
            }
            let Some(at) = data.windows(2).position(|w| w == BLE_HEADER) else {
                // No header: keep only a last 0x55, which may start one.
                let keep = usize::from(data.last() == Some(&BLE_HEADER[0]));
                self.stream.discard(data.len() - keep);
                return None;
            };
            self.stream.discard(at);
            let data = self.stream.queue.data();
            match data.get(BLE_PACKET_LEN..BLE_PACKET_LEN + 2) {
                None => return None,
                Some(next) if next == BLE_HEADER => {
                    self.stream.in_sync = true;
                    return Some(Ok(self.take_packet()));
                }
                // Not followed by a header: a false `55 61`; look further.
                Some(_) => self.stream.discard(1),
            }
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &FormatStats {
        &self.stream.stats
    }

    /// Bytes queued and not yet decoded (at most 21 after `next` returns `None`).
    pub fn buffered_bytes(&self) -> usize {
        self.stream.queue.len()
    }

    /// Decodes the packet at the head of the queue (the caller checked it is all there).
    fn take_packet(&mut self) -> DeviceMessage {
        let data = self.stream.queue.data();
        let v = |i: usize| i16_at(data, 2 + 2 * i);
        let acc = [v(0), v(1), v(2)];
        let gyr = [v(3), v(4), v(5)];
        let t_host_us = self.stream.queue.time_at(BLE_PACKET_LEN - 1);
        self.stream.queue.consume(BLE_PACKET_LEN);
        self.stream.stats.frames_ok += 1;
        let sample = ImuSample {
            seq: self.seq,
            t_us: self.clock.sample_time_us(t_host_us) as u32,
            acc,
            gyr,
            mag: None,
        };
        self.seq = self.seq.wrapping_add(1);
        DeviceMessage::Imu(sample)
    }
}

// WT901C / JY901 -------------------------------------------------------------------------------

/// Decodes the WT901C / JY901 serial stream into [`DeviceMessage`]s.
///
/// The first message is a synthetic [`DeviceMessage::Hello`] (a wearable, firmware 0.0.0,
/// device id 0, the configured rate, the ±16 g / ±2000 °/s scales). Its `mag_ut_per_lsb` is
/// 0: WitMotion does not document the unit of the serial `0x54` output (the WT901BLECL's
/// register read-out is documented in mG, but that is not confirmed for the serial models),
/// so magnetometer counts are passed on in the sensor's own, uncalibrated units.
///
/// One [`DeviceMessage::Imu`] is emitted per output cycle: when a `0x52` angular-rate frame
/// arrives and a `0x51` acceleration frame has arrived since the last sample. `mag` is the
/// latest `0x54` frame received since the last sample, if any. In the factory burst order
/// (`51 52 53 54`) the magnetometer frame comes after the angular rate, so each sample carries
/// the previous cycle's magnetic field (one period old), and the first sample has none.
/// Angle (`0x53`) and quaternion (`0x59`) frames are checked and counted but not used; other
/// frame types with a valid checksum are ignored and not counted.
///
/// Errors: a frame with a wrong checksum gives [`FormatError::Checksum`], bytes that are not a
/// frame where one is expected give [`FormatError::Malformed`]; either way the decoder then
/// skips (counting `bytes_discarded`) to the next `0x55` that starts a frame with a correct
/// checksum followed by another `0x55`, and reports nothing more until it has found one.
#[derive(Debug, Clone)]
pub struct WitmotionSerialDecoder {
    rate_hz: f32,
    stream: FormatStream,
    clock: HostClock,
    seq: u32,
    acc: Option<[i16; 3]>,
    mag: Option<[i16; 3]>,
}

impl WitmotionSerialDecoder {
    /// A decoder for a device set to output `rate_hz` cycles per second.
    pub fn new(rate_hz: f32) -> Self {
        WitmotionSerialDecoder {
            rate_hz,
            stream: FormatStream::new(),
            clock: HostClock::new(rate_hz),
            seq: 0,
            acc: None,
            mag: None,
        }
    }

    /// The stream was interrupted (the link dropped): the queued partial frame is dropped and
    /// decoding realigns on the next frames.
    pub fn resync(&mut self) {
        self.stream.resync();
    }

    /// Queues bytes read from the port at `t_host_us`.
    pub fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        self.stream.push(bytes, t_host_us);
    }

    /// The next decoded message or rejection; `None` when the queued bytes hold no more.
    #[allow(clippy::should_implement_trait)] // not an Iterator: pushing more bytes revives it
    pub fn next(&mut self) -> Option<Result<DeviceMessage, FormatError>> {
        if self.stream.hello_due() {
            return Some(Ok(imu_hello(self.rate_hz, 0.0)));
        }
        loop {
            let data = self.stream.queue.data();
            let first = *data.first()?;
            if first != SERIAL_HEADER {
                if self.stream.in_sync {
                    self.stream.in_sync = false;
                    self.stream.stats.malformed += 1;
                    return Some(Err(FormatError::Malformed));
                }
                let skip = data
                    .iter()
                    .position(|&b| b == SERIAL_HEADER)
                    .unwrap_or(data.len());
                self.stream.discard(skip);
                continue;
            }
            let frame = data.get(..SERIAL_FRAME_LEN)?;
            let valid = frame.get(SERIAL_FRAME_LEN - 1) == Some(&checksum(&frame[..10]));
            if !valid {
                self.stream.discard(1);
                if self.stream.in_sync {
                    self.stream.in_sync = false;
                    self.stream.stats.checksum_errors += 1;
                    return Some(Err(FormatError::Checksum));
                }
                continue;
            }
            if !self.stream.in_sync {
                // Realigning: trust a frame only when the next one starts right after it.
                match data.get(SERIAL_FRAME_LEN) {
                    None => return None,
                    Some(&SERIAL_HEADER) => self.stream.in_sync = true,
                    Some(_) => {
                        self.stream.discard(1);
                        continue;
                    }
                }
            }
            if let Some(message) = self.take_frame() {
                return Some(Ok(message));
            }
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &FormatStats {
        &self.stream.stats
    }

    /// Bytes queued and not yet decoded (at most one frame after `next` returns `None`).
    pub fn buffered_bytes(&self) -> usize {
        self.stream.queue.len()
    }

    /// Consumes the checked frame at the head of the queue; a sample if it completes one.
    fn take_frame(&mut self) -> Option<DeviceMessage> {
        let data = self.stream.queue.data();
        let kind = data.get(1).copied().unwrap_or(0);
        let v = |i: usize| i16_at(data, 2 + 2 * i);
        let xyz = [v(0), v(1), v(2)];
        let t_host_us = self.stream.queue.time_at(SERIAL_FRAME_LEN - 1);
        self.stream.queue.consume(SERIAL_FRAME_LEN);
        match kind {
            SERIAL_ACC => self.acc = Some(xyz),
            SERIAL_GYRO => {
                self.stream.stats.frames_ok += 1;
                let acc = self.acc.take()?;
                let sample = ImuSample {
                    seq: self.seq,
                    t_us: self.clock.sample_time_us(t_host_us) as u32,
                    acc,
                    gyr: xyz,
                    mag: self.mag.take(),
                };
                self.seq = self.seq.wrapping_add(1);
                return Some(DeviceMessage::Imu(sample));
            }
            SERIAL_MAG => self.mag = Some(xyz),
            SERIAL_ANGLE | SERIAL_QUATERNION => {}
            _ => return None,
        }
        self.stream.stats.frames_ok += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ble(decoder: &mut WitmotionBleDecoder) -> Vec<Result<DeviceMessage, FormatError>> {
        std::iter::from_fn(|| decoder.next()).collect()
    }

    fn decode_serial(
        decoder: &mut WitmotionSerialDecoder,
    ) -> Vec<Result<DeviceMessage, FormatError>> {
        std::iter::from_fn(|| decoder.next()).collect()
    }

    fn imu(
        seq: u32,
        t_us: u32,
        acc: [i16; 3],
        gyr: [i16; 3],
        mag: Option<[i16; 3]>,
    ) -> DeviceMessage {
        DeviceMessage::Imu(ImuSample {
            seq,
            t_us,
            acc,
            gyr,
            mag,
        })
    }

    fn samples(outcomes: &[Result<DeviceMessage, FormatError>]) -> Vec<ImuSample> {
        outcomes
            .iter()
            .filter_map(|o| match o {
                Ok(DeviceMessage::Imu(s)) => Some(*s),
                _ => None,
            })
            .collect()
    }

    // Golden bytes, written by hand from the documented layouts ------------------------------

    /// WT901BLECL packet: device flat and still, z up (az = 1 g = 32768/16 = 2048 = 0x0800),
    /// rotating about z at +250 °/s (250 × 32768/2000 = 4096 = 0x1000), roll -90 °
    /// (-90 × 32768/180 = -16384 = 0xC000), pitch 0, yaw +45 ° (8192 = 0x2000).
    const GOLDEN_BLE: [u8; 20] = [
        0x55, 0x61, // header
        0x00, 0x00, // ax 0
        0x00, 0x00, // ay 0
        0x00, 0x08, // az 2048
        0x00, 0x00, // wx 0
        0x00, 0x00, // wy 0
        0x00, 0x10, // wz 4096
        0x00, 0xC0, // roll -16384
        0x00, 0x00, // pitch 0
        0x00, 0x20, // yaw 8192
    ];

    /// Serial acceleration frame, ax = 1 g (2048 = 0x0800), ay = -1 (0xFFFF), az = 0,
    /// temperature 25.00 °C (2500 = 0x09C4).
    /// Checksum: 0x55 + 0x51 + 0x00 + 0x08 + 0xFF + 0xFF + 0x00 + 0x00 + 0xC4 + 0x09
    ///   = 85 + 81 + 8 + 255 + 255 + 196 + 9 = 889 = 0x379 → 0x79.
    const GOLDEN_ACC: [u8; 11] = [
        0x55, 0x51, 0x00, 0x08, 0xFF, 0xFF, 0x00, 0x00, 0xC4, 0x09, 0x79,
    ];

    /// Serial angular-rate frame, wx = -2000 °/s (-32768 = 0x8000), wy = 1, wz = 0x1234,
    /// voltage word 0.
    /// Checksum: 0x55 + 0x52 + 0x00 + 0x80 + 0x01 + 0x00 + 0x34 + 0x12 + 0 + 0
    ///   = 85 + 82 + 128 + 1 + 52 + 18 = 366 = 0x16E → 0x6E.
    const GOLDEN_GYRO: [u8; 11] = [
        0x55, 0x52, 0x00, 0x80, 0x01, 0x00, 0x34, 0x12, 0x00, 0x00, 0x6E,
    ];

    /// Serial magnetic-field frame, hx = 100 (0x0064), hy = -100 (0xFF9C), hz = 300 (0x012C),
    /// temperature 0.
    /// Checksum: 85 + 84 + 0x64 + 0x9C + 0xFF + 0x2C + 0x01 = 85 + 84 + 100 + 156 + 255 + 44
    ///   + 1 = 725 = 0x2D5 → 0xD5.
    const GOLDEN_MAG: [u8; 11] = [
        0x55, 0x54, 0x64, 0x00, 0x9C, 0xFF, 0x2C, 0x01, 0x00, 0x00, 0xD5,
    ];

    /// Serial angle frame, all zero. Checksum: 0x55 + 0x53 = 85 + 83 = 168 = 0xA8.
    const GOLDEN_ANGLE: [u8; 11] = [
        0x55, 0x53, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xA8,
    ];

    #[test]
    fn encoders_match_golden_bytes() {
        assert_eq!(
            ble_packet([0, 0, 2048], [0, 0, 4096], [-16384, 0, 8192]),
            GOLDEN_BLE
        );
        assert_eq!(serial_frame(SERIAL_ACC, [2048, -1, 0, 2500]), GOLDEN_ACC);
        assert_eq!(
            serial_frame(SERIAL_GYRO, [-32768, 1, 0x1234, 0]),
            GOLDEN_GYRO
        );
        assert_eq!(serial_frame(SERIAL_MAG, [100, -100, 300, 0]), GOLDEN_MAG);
        assert_eq!(serial_frame(SERIAL_ANGLE, [0; 4]), GOLDEN_ANGLE);
    }

    #[test]
    fn commands() {
        assert_eq!(unlock_command(), [0xFF, 0xAA, 0x69, 0x88, 0xB5]);
        assert_eq!(save_command(), [0xFF, 0xAA, 0x00, 0x00, 0x00]);
        assert_eq!(rate_command(10.0), Some([0xFF, 0xAA, 0x03, 0x06, 0x00]));
        assert_eq!(rate_command(50.0), Some([0xFF, 0xAA, 0x03, 0x08, 0x00]));
        assert_eq!(rate_command(100.0), Some([0xFF, 0xAA, 0x03, 0x09, 0x00]));
        assert_eq!(rate_command(0.2), Some([0xFF, 0xAA, 0x03, 0x01, 0x00]));
        assert_eq!(rate_command(200.0), Some([0xFF, 0xAA, 0x03, 0x0B, 0x00]));
        for unsupported in [0.0, -10.0, 7.0, 125.0, 1000.0, f32::NAN, f32::INFINITY] {
            assert_eq!(rate_command(unsupported), None, "{unsupported}");
        }
    }

    #[test]
    fn scales() {
        // 1 g = 2048 counts; 2000 °/s = 32768 counts.
        assert!((ACC_M_S2_PER_LSB * 2048.0 - 9.806_65).abs() < 1e-5);
        assert!((GYR_RAD_S_PER_LSB * 32768.0 - 2000f32.to_radians()).abs() < 1e-4);
    }

    #[test]
    fn ble_golden_packet_decodes() {
        let mut d = WitmotionBleDecoder::new(50.0);
        d.push(&GOLDEN_BLE, 1_000_000);
        let out = decode_ble(&mut d);
        assert_eq!(out.len(), 2);
        let Ok(DeviceMessage::Hello(info)) = out[0] else {
            panic!("first message is not a Hello: {:?}", out[0]);
        };
        assert_eq!(info.kind, DeviceKind::Wearable);
        assert_eq!(info.device_id, 0);
        assert_eq!(info.sample_rate_hz, 50.0);
        assert_eq!(info.acc_m_s2_per_lsb, ACC_M_S2_PER_LSB);
        assert_eq!(info.gyr_rad_s_per_lsb, GYR_RAD_S_PER_LSB);
        assert_eq!(info.mag_ut_per_lsb, 0.0);
        assert_eq!(info.load_n_per_count, 0.0);
        assert_eq!(
            out[1],
            Ok(imu(0, 1_000_000, [0, 0, 2048], [0, 0, 4096], None))
        );
        assert_eq!(d.stats().frames_ok, 1);
        assert_eq!(d.buffered_bytes(), 0);
    }

    #[test]
    fn ble_packets_split_and_merged_across_notifications() {
        let packets: Vec<[u8; 20]> = (0..6)
            .map(|i| ble_packet([i, -i, 2048], [i * 10, 0, -1], [0, 0, 0]))
            .collect();
        let stream: Vec<u8> = packets.iter().flatten().copied().collect();
        let mut d = WitmotionBleDecoder::new(100.0);
        let mut out = Vec::new();
        // Notifications of 7, 20, 33 and the rest bytes.
        for (k, chunk) in [&stream[..7], &stream[7..27], &stream[27..60], &stream[60..]]
            .into_iter()
            .enumerate()
        {
            d.push(chunk, 1_000_000 + k as u64 * 30_000);
            out.extend(decode_ble(&mut d));
        }
        let got = samples(&out);
        assert_eq!(got.len(), 6);
        for (i, s) in got.iter().enumerate() {
            let i16i = i as i16;
            assert_eq!(s.seq, i as u32);
            assert_eq!(s.acc, [i16i, -i16i, 2048]);
            assert_eq!(s.gyr, [i16i * 10, 0, -1]);
        }
        assert_eq!(
            d.stats(),
            &FormatStats {
                frames_ok: 6,
                ..FormatStats::default()
            }
        );
    }

    #[test]
    fn ble_resyncs_after_garbage() {
        let p = |i: i16| ble_packet([i, 2 * i, 3 * i], [-i, 0, 7], [1, 2, 3]);
        let mut stream = Vec::new();
        stream.extend_from_slice(&[0x61, 0x00, 0x55]); // mid-packet start
        stream.extend_from_slice(&p(1));
        stream.extend_from_slice(&p(2));
        // Garbage with false headers and a lone 0x55.
        stream.extend_from_slice(&[0x13, 0x55, 0x61, 0x01, 0x02, 0x55, 0x00, 0x55, 0x61, 0x09]);
        stream.extend_from_slice(&p(3));
        stream.extend_from_slice(&p(4));
        stream.extend_from_slice(&[0x00; 5]);
        stream.extend_from_slice(&p(5));
        stream.extend_from_slice(&p(6));
        let mut d = WitmotionBleDecoder::new(100.0);
        d.push(&stream, 0);
        let out = decode_ble(&mut d);
        let got: Vec<i16> = samples(&out).iter().map(|s| s.acc[0]).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        let errors = out.iter().filter(|o| o.is_err()).count();
        assert_eq!(errors, 3);
        assert_eq!(
            d.stats(),
            &FormatStats {
                frames_ok: 6,
                malformed: 3,
                bytes_discarded: 3 + 10 + 5,
                ..FormatStats::default()
            }
        );
    }

    #[test]
    fn ble_false_header_inside_data_is_skipped_when_realigning() {
        // After a stray byte the stream goes on mid-packet, on data bytes that read `55 61`
        // (ax = 0x6155): the decoder must not take them for a header, since no header follows
        // 20 bytes later.
        let p1 = ble_packet([0x6155, 0, 0], [0, 0, 0], [0, 0, 0]);
        let p2 = ble_packet([1, 1, 1], [2, 2, 2], [3, 3, 3]);
        let p3 = ble_packet([4, 4, 4], [5, 5, 5], [6, 6, 6]);
        let mut stream = vec![0x00];
        stream.extend_from_slice(&p1[2..]);
        stream.extend_from_slice(&p2);
        stream.extend_from_slice(&p3);
        let mut d = WitmotionBleDecoder::new(100.0);
        d.push(&stream, 0);
        let out = decode_ble(&mut d);
        let got: Vec<[i16; 3]> = samples(&out).iter().map(|s| s.acc).collect();
        assert_eq!(got, [[1, 1, 1], [4, 4, 4]]);
        assert_eq!(d.stats().malformed, 1);
        assert_eq!(d.stats().bytes_discarded, 1 + 18);
    }

    #[test]
    fn ble_realigning_waits_for_the_next_header() {
        // Out of alignment, a packet is only accepted once the next header confirms it.
        let p = ble_packet([1, 2, 3], [4, 5, 6], [7, 8, 9]);
        let mut d = WitmotionBleDecoder::new(100.0);
        d.push(&[0x01], 0);
        d.push(&p, 0);
        let out = decode_ble(&mut d);
        assert_eq!(out.len(), 2); // Hello, Malformed
        assert_eq!(out[1], Err(FormatError::Malformed));
        assert_eq!(d.buffered_bytes(), 20);
        d.push(&p[..2], 10_000);
        let out = decode_ble(&mut d);
        assert_eq!(out, [Ok(imu(0, 0, [1, 2, 3], [4, 5, 6], None))]);
        assert_eq!(d.buffered_bytes(), 2);
    }

    #[test]
    fn serial_golden_frames_decode() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&GOLDEN_MAG); // before any acc: kept for the first sample
        stream.extend_from_slice(&GOLDEN_ACC);
        stream.extend_from_slice(&GOLDEN_GYRO);
        stream.extend_from_slice(&GOLDEN_ANGLE);
        let mut d = WitmotionSerialDecoder::new(10.0);
        d.push(&stream, 5_000_000);
        let out = decode_serial(&mut d);
        assert_eq!(out.len(), 2);
        let Ok(DeviceMessage::Hello(info)) = out[0] else {
            panic!("first message is not a Hello: {:?}", out[0]);
        };
        assert_eq!(info.kind, DeviceKind::Wearable);
        assert_eq!(info.sample_rate_hz, 10.0);
        assert_eq!(info.acc_m_s2_per_lsb, ACC_M_S2_PER_LSB);
        assert_eq!(info.gyr_rad_s_per_lsb, GYR_RAD_S_PER_LSB);
        assert_eq!(info.mag_ut_per_lsb, 0.0);
        assert_eq!(
            out[1],
            Ok(imu(
                0,
                5_000_000,
                [2048, -1, 0],
                [-32768, 1, 0x1234],
                Some([100, -100, 300])
            ))
        );
        assert_eq!(d.stats().frames_ok, 4);
    }

    #[test]
    fn serial_one_sample_per_burst_and_mag_goes_to_the_next_sample() {
        let mut stream = Vec::new();
        for i in 0..3i16 {
            stream.extend_from_slice(&serial_frame(SERIAL_ACC, [i, 0, 2048, 2500]));
            stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [0, i, 0, 0]));
            stream.extend_from_slice(&serial_frame(SERIAL_ANGLE, [0, 0, 0, 0]));
            stream.extend_from_slice(&serial_frame(SERIAL_MAG, [i, i, i, 0]));
            stream.extend_from_slice(&serial_frame(SERIAL_QUATERNION, [32767, 0, 0, 0]));
            stream.extend_from_slice(&serial_frame(0x50, [1, 2, 3, 4])); // time: ignored
        }
        // A gyro frame without a new acc frame gives no sample.
        stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [9, 9, 9, 0]));
        let mut d = WitmotionSerialDecoder::new(10.0);
        d.push(&stream, 0);
        let got = samples(&decode_serial(&mut d));
        let summary: Vec<(u32, i16, i16, Option<[i16; 3]>)> = got
            .iter()
            .map(|s| (s.seq, s.acc[0], s.gyr[1], s.mag))
            .collect();
        assert_eq!(
            summary,
            [
                (0, 0, 0, None),
                (1, 1, 1, Some([0, 0, 0])),
                (2, 2, 2, Some([1, 1, 1]))
            ]
        );
        assert_eq!(d.stats().frames_ok, 3 * 5 + 1);
        assert_eq!(d.stats().bytes_discarded, 0);
    }

    #[test]
    fn serial_bad_checksum_is_rejected_and_resynced() {
        let mut bad_acc = serial_frame(SERIAL_ACC, [7, 7, 7, 0]);
        bad_acc[4] ^= 0x10;
        let mut stream = Vec::new();
        stream.extend_from_slice(&serial_frame(SERIAL_ACC, [1, 0, 0, 0]));
        stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [1, 0, 0, 0]));
        stream.extend_from_slice(&bad_acc);
        stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [2, 0, 0, 0]));
        stream.extend_from_slice(&serial_frame(SERIAL_ANGLE, [0, 0, 0, 0]));
        stream.extend_from_slice(&[0x13, 0x55, 0x55, 0x51, 0x00]); // garbage
        stream.extend_from_slice(&serial_frame(SERIAL_ACC, [3, 0, 0, 0]));
        stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [3, 0, 0, 0]));
        let mut d = WitmotionSerialDecoder::new(10.0);
        d.push(&stream, 0);
        let out = decode_serial(&mut d);
        let got: Vec<(i16, i16)> = samples(&out).iter().map(|s| (s.acc[0], s.gyr[0])).collect();
        // The gyro frame after the bad acc frame has no acc to pair with.
        assert_eq!(got, [(1, 1), (3, 3)]);
        let errors: Vec<FormatError> = out.iter().filter_map(|o| o.clone().err()).collect();
        assert_eq!(errors, [FormatError::Checksum, FormatError::Malformed]);
        assert_eq!(
            d.stats(),
            &FormatStats {
                frames_ok: 6,
                checksum_errors: 1,
                malformed: 1,
                bytes_discarded: 11 + 5,
                oversize: 0,
            }
        );
    }

    #[test]
    fn serial_realigning_waits_for_the_next_frame() {
        // Joining mid-frame: the tail of a frame, then a whole acc frame, later a gyro frame.
        let acc = serial_frame(SERIAL_ACC, [1, 2, 3, 0]);
        let gyro = serial_frame(SERIAL_GYRO, [4, 5, 6, 0]);
        let mut d = WitmotionSerialDecoder::new(10.0);
        d.push(&acc[4..], 0);
        d.push(&acc, 0);
        let out = decode_serial(&mut d);
        assert_eq!(out[1..], [Err(FormatError::Malformed)]);
        // The acc frame waits for the next frame's 0x55 to confirm it.
        assert_eq!(d.buffered_bytes(), SERIAL_FRAME_LEN);
        d.push(&gyro, 100_000);
        let out = decode_serial(&mut d);
        assert_eq!(out, [Ok(imu(0, 100_000, [1, 2, 3], [4, 5, 6], None))]);
        assert_eq!(d.buffered_bytes(), 0);
        assert_eq!(d.stats().bytes_discarded, 7);
        assert_eq!(d.stats().frames_ok, 2);
    }
}
