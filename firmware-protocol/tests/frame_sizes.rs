//! The frame sizes README.md quotes, and the bandwidth arithmetic built on them.

mod common;

use common::frame;
use proprio_protocol::{
    DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, ImuBatch, ImuSample, LoadSample,
    MAX_BATCH, MAX_FRAME_LEN,
};

/// 115200 baud, 8N1: 10 bits per byte.
const SERIAL_BYTES_PER_S: usize = 115_200 / 10;

fn worst_imu() -> ImuSample {
    ImuSample {
        seq: u32::MAX,
        t_us: u32::MAX,
        acc: [i16::MIN; 3],
        gyr: [i16::MIN; 3],
        mag: Some([i16::MIN; 3]),
    }
}

/// A wearable ten minutes into a session, the user moving: ±16 g accelerometer (2048 counts
/// per g), ±2000 °/s gyro (16.4 counts per °/s), magnetometer.
fn typical_imu(mag: bool) -> ImuSample {
    ImuSample {
        seq: 120_000,
        t_us: 600_000_000,
        acc: [-35, 350, 2051],
        gyr: [-250, 410, 150],
        mag: mag.then_some([-310, 118, -440]),
    }
}

#[test]
fn imu_frames() {
    assert_eq!(frame(&DeviceMessage::Imu(typical_imu(true))).len(), 32);
    assert_eq!(frame(&DeviceMessage::Imu(typical_imu(false))).len(), 26);
    assert_eq!(frame(&DeviceMessage::Imu(worst_imu())).len(), 44);
}

fn typical_load() -> LoadSample {
    LoadSample {
        seq: 48_000,
        t_us: 600_000_000,
        counts: [1_502_113, 1_498_870, 1_611_004, 1_587_345],
    }
}

fn worst_load() -> LoadSample {
    LoadSample {
        seq: u32::MAX,
        t_us: u32::MAX,
        counts: [i32::MIN; 4],
    }
}

#[test]
fn load_frames() {
    assert_eq!(frame(&DeviceMessage::Load(typical_load())).len(), 30);
    assert_eq!(frame(&DeviceMessage::Load(worst_load())).len(), 36);
}

#[test]
fn largest_frames_fit_max_frame_len() {
    let full = DeviceMessage::ImuBatch(ImuBatch {
        samples: heapless::Vec::from_slice(&[worst_imu(); MAX_BATCH]).unwrap(),
    });
    assert_eq!(frame(&full).len(), 312);
    let hello = DeviceMessage::Hello(DeviceInfo {
        kind: DeviceKind::BalanceBoard,
        firmware: FirmwareVersion {
            major: 1,
            minor: 1,
            patch: 1,
        },
        device_id: u32::MAX,
        sample_rate_hz: 1.5,
        acc_m_s2_per_lsb: 1.5,
        gyr_rad_s_per_lsb: 1.5,
        mag_ut_per_lsb: 1.5,
        load_n_per_count: 1.5,
    });
    assert_eq!(frame(&hello).len(), 35);
    assert!(frame(&full).len() <= MAX_FRAME_LEN);
}

#[test]
fn typical_batch_of_eight() {
    let samples: Vec<ImuSample> = (0..MAX_BATCH as u32)
        .map(|i| ImuSample {
            seq: 120_000 + i,
            t_us: 600_000_000 + 5000 * i,
            ..typical_imu(true)
        })
        .collect();
    let batch = DeviceMessage::ImuBatch(ImuBatch {
        samples: heapless::Vec::from_slice(&samples).unwrap(),
    });
    // 8 samples in one 215-byte frame instead of 8 frames of 32 bytes (256 bytes): at 200 Hz,
    // 25 frames and 5.4 kB/s instead of 200 frames and 6.4 kB/s.
    let len = frame(&batch).len();
    assert_eq!(len, 215);
    assert_eq!(200 / MAX_BATCH * len, 5_375);
}

#[test]
fn streams_fit_115200_baud() {
    let imu = frame(&DeviceMessage::Imu(typical_imu(true))).len();
    let imu_worst = frame(&DeviceMessage::Imu(worst_imu())).len();
    let load = frame(&DeviceMessage::Load(typical_load())).len();
    let load_worst = frame(&DeviceMessage::Load(worst_load())).len();
    // 200 Hz IMU: 6.4 kB/s typical, 8.8 kB/s worst case.
    assert_eq!(200 * imu, 6_400);
    assert_eq!(200 * imu_worst, 8_800);
    assert!(200 * imu_worst < SERIAL_BYTES_PER_S);
    // 80 Hz load: 2.4 kB/s typical, 2.9 kB/s worst case.
    assert_eq!(80 * load, 2_400);
    assert_eq!(80 * load_worst, 2_880);
    assert!(80 * load_worst < SERIAL_BYTES_PER_S);
    // Even both typical streams on one line would fit, with a 1 Hz Status on top.
    assert!(200 * imu + 80 * load + 11 < SERIAL_BYTES_PER_S);
}
