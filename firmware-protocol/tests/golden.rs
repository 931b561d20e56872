//! Golden fixtures: the exact frame bytes of one message of every kind, both directions.
//!
//! Each fixture in `tests/golden/<name>.hex` is the lowercase hex of a complete frame,
//! delimiter included. The test asserts that `encode_frame` still produces exactly those bytes
//! and that decoding them still gives the message back. A mismatch is a wire-format change:
//! see `tests/golden/README.md` before touching a fixture.
//!
//! Regenerate (only after a deliberate, reviewed change) with
//! `PROPRIO_BLESS=1 cargo test -p proprio-protocol --test golden`.

mod common;

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use common::{decode_all, frame, from_hex, to_hex};
use proprio_protocol::{
    Ack, AckStatus, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, HostCommandKind,
    HostMessage, ImuBatch, ImuSample, LoadSample, Status, MAX_BATCH,
};
use serde::{de::DeserializeOwned, Serialize};

#[allow(clippy::large_enum_variant)] // test data, a few dozen of them
enum Msg {
    Device(DeviceMessage),
    Host(HostMessage),
}

fn imu(seq: u32, t_us: u32, acc: [i16; 3], gyr: [i16; 3], mag: Option<[i16; 3]>) -> ImuSample {
    ImuSample {
        seq,
        t_us,
        acc,
        gyr,
        mag,
    }
}

fn batch(samples: &[ImuSample]) -> DeviceMessage {
    DeviceMessage::ImuBatch(ImuBatch {
        samples: heapless::Vec::from_slice(samples).expect("at most MAX_BATCH samples"),
    })
}

fn ack(command: HostCommandKind, status: AckStatus) -> DeviceMessage {
    DeviceMessage::Ack(Ack { command, status })
}

/// Every fixture: file name (without `.hex`) and message. Between them they use every variant
/// of every enum on the wire and the extreme values of every integer type.
fn fixtures() -> Vec<(&'static str, Msg)> {
    use DeviceMessage as D;
    use HostMessage as H;
    use Msg::{Device, Host};

    let full_batch: Vec<ImuSample> = (0..MAX_BATCH as u32)
        .map(|i| {
            let wild = if i % 2 == 0 { i16::MIN } else { i16::MAX };
            imu(
                u32::MAX - i,
                u32::MAX - 1000 * i,
                [wild, !wild, -1],
                [wild, 1, 0],
                (i % 3 != 0).then_some([wild, !wild, i as i16]),
            )
        })
        .collect();

    vec![
        (
            "device_hello_wearable",
            Device(D::Hello(DeviceInfo {
                kind: DeviceKind::Wearable,
                firmware: FirmwareVersion {
                    major: 1,
                    minor: 2,
                    patch: 3,
                },
                device_id: 0x0012_3456,
                sample_rate_hz: 200.0,
                // ±16 g and ±2000 °/s over 16 bits, 0.15 µT per count.
                acc_m_s2_per_lsb: 16.0 * 9.806_65 / 32768.0,
                gyr_rad_s_per_lsb: 2000.0 * core::f32::consts::PI / 180.0 / 32768.0,
                mag_ut_per_lsb: 0.15,
                load_n_per_count: 0.0,
            })),
        ),
        (
            "device_hello_balance_board",
            Device(D::Hello(DeviceInfo {
                kind: DeviceKind::BalanceBoard,
                firmware: FirmwareVersion {
                    major: u8::MAX,
                    minor: 0,
                    patch: u8::MAX,
                },
                device_id: u32::MAX,
                sample_rate_hz: 80.0,
                acc_m_s2_per_lsb: 0.0,
                gyr_rad_s_per_lsb: 0.0,
                mag_ut_per_lsb: -0.0,
                load_n_per_count: 9.806_65 * 0.2 / 8_388_608.0,
            })),
        ),
        (
            "device_imu_mag",
            Device(D::Imu(imu(
                1000,
                5_000_000,
                [-12, 40, 2048],
                [-3, 0, 7],
                Some([-300, 120, -45]),
            ))),
        ),
        (
            "device_imu_no_mag",
            Device(D::Imu(imu(0, 0, [0, -1, 1], [-64, 63, 64], None))),
        ),
        (
            "device_imu_extremes",
            Device(D::Imu(imu(
                u32::MAX,
                u32::MAX,
                [i16::MIN, i16::MAX, -1],
                [i16::MAX, i16::MIN, 0],
                Some([i16::MIN, i16::MIN, i16::MAX]),
            ))),
        ),
        (
            "device_imu_batch_3",
            Device(batch(&[
                imu(
                    41,
                    1_000_000,
                    [10, -20, 2050],
                    [1, -1, 0],
                    Some([-310, 118, -44]),
                ),
                imu(42, 1_005_000, [12, -18, 2046], [2, -2, 1], None),
                imu(
                    43,
                    1_010_000,
                    [9, -21, 2049],
                    [i16::MIN, i16::MAX, -128],
                    Some([0; 3]),
                ),
            ])),
        ),
        ("device_imu_batch_empty", Device(batch(&[]))),
        ("device_imu_batch_full", Device(batch(&full_batch))),
        (
            "device_load",
            Device(D::Load(LoadSample {
                seq: 77,
                t_us: 12_500,
                counts: [153_210, 149_877, -1_024, 8_388_607],
            })),
        ),
        (
            "device_load_extremes",
            Device(D::Load(LoadSample {
                seq: u32::MAX,
                t_us: 0,
                counts: [i32::MIN, i32::MAX, -1, -8_388_608],
            })),
        ),
        (
            "device_status",
            Device(D::Status(Status {
                battery_percent: 87,
                battery_mv: 4012,
                charging: false,
            })),
        ),
        (
            "device_status_extremes",
            Device(D::Status(Status {
                battery_percent: u8::MAX,
                battery_mv: u16::MAX,
                charging: true,
            })),
        ),
        (
            "device_ack_get_info_ok",
            Device(ack(HostCommandKind::GetInfo, AckStatus::Ok)),
        ),
        (
            "device_ack_start_ok",
            Device(ack(HostCommandKind::Start, AckStatus::Ok)),
        ),
        (
            "device_ack_stop_ok",
            Device(ack(HostCommandKind::Stop, AckStatus::Ok)),
        ),
        (
            "device_ack_tare_invalid_argument",
            Device(ack(HostCommandKind::Tare, AckStatus::InvalidArgument)),
        ),
        (
            "device_ack_vibrate_unsupported",
            Device(ack(HostCommandKind::Vibrate, AckStatus::Unsupported)),
        ),
        ("host_get_info", Host(H::GetInfo)),
        ("host_start_200", Host(H::Start { rate_hz: 200 })),
        ("host_start_max", Host(H::Start { rate_hz: u16::MAX })),
        ("host_stop", Host(H::Stop)),
        ("host_tare", Host(H::Tare)),
        ("host_vibrate_250", Host(H::Vibrate { duration_ms: 250 })),
        ("host_vibrate_0", Host(H::Vibrate { duration_ms: 0 })),
    ]
}

const MISSING: &str = "missing golden fixture";
const BLESS_HINT: &str = "Generate missing fixtures for new messages with \
    `PROPRIO_BLESS=1 cargo test -p proprio-protocol --test golden`, review them and commit them.";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn blessing() -> bool {
    std::env::var_os("PROPRIO_BLESS").is_some_and(|v| v == "1")
}

/// Checks (or, when blessing, writes) one fixture; returns a description of what is wrong.
fn check<M>(name: &str, msg: &M) -> Result<(), String>
where
    M: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let path = golden_dir().join(format!("{name}.hex"));
    let encoded = frame(msg);

    // Whatever the fixture says, the frame must decode back to the message.
    let (outcomes, stats) = decode_all::<M>(&encoded);
    if outcomes.len() != 1 || outcomes[0].as_ref() != Ok(msg) || stats.frames_ok != 1 {
        return Err(format!(
            "{name}: encode_frame output does not decode back to {msg:?}: {outcomes:?}"
        ));
    }

    if blessing() {
        let text = format!("{}\n", to_hex(&encoded));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("blessed {}", path.display());
        }
        return Ok(());
    }

    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{name}: {MISSING} {} ({e})", path.display()))?;
    let fixture = from_hex(&text).map_err(|e| format!("{}: {e}", path.display()))?;

    if encoded != fixture {
        return Err(format!(
            "{name}: WIRE FORMAT CHANGED: encode_frame({msg:?})\n    gives    {}\n    fixture  {}\n  \
             Deployed firmware and recordings speak the fixture's bytes; see tests/golden/README.md",
            to_hex(&encoded),
            to_hex(&fixture),
        ));
    }
    let (outcomes, stats) = decode_all::<M>(&fixture);
    if outcomes.len() != 1 || outcomes[0].as_ref() != Ok(msg) || stats.frames_ok != 1 {
        return Err(format!(
            "{name}: fixture no longer decodes to {msg:?}: {outcomes:?}, {stats:?}"
        ));
    }
    Ok(())
}

#[test]
fn every_fixture_encodes_and_decodes_exactly() {
    let fixtures = fixtures();
    let failures: Vec<String> = fixtures
        .iter()
        .filter_map(|(name, msg)| match msg {
            Msg::Device(m) => check(name, m).err(),
            Msg::Host(m) => check(name, m).err(),
        })
        .collect();
    let hint = if failures.iter().any(|f| f.contains(MISSING)) {
        BLESS_HINT
    } else {
        ""
    };
    assert!(
        failures.is_empty(),
        "{} of {} golden fixtures failed:\n{}\n{hint}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_cover_every_variant() {
    let mut device = [false; 6];
    let mut host = [false; 5];
    for (_, msg) in fixtures() {
        match msg {
            Msg::Device(m) => {
                device[match m {
                    DeviceMessage::Hello(_) => 0,
                    DeviceMessage::Imu(_) => 1,
                    DeviceMessage::ImuBatch(_) => 2,
                    DeviceMessage::Load(_) => 3,
                    DeviceMessage::Status(_) => 4,
                    DeviceMessage::Ack(_) => 5,
                }] = true
            }
            Msg::Host(m) => {
                host[match m {
                    HostMessage::GetInfo => 0,
                    HostMessage::Start { .. } => 1,
                    HostMessage::Stop => 2,
                    HostMessage::Tare => 3,
                    HostMessage::Vibrate { .. } => 4,
                }] = true
            }
        }
    }
    assert!(
        device.iter().all(|&c| c),
        "device variants covered: {device:?}"
    );
    assert!(host.iter().all(|&c| c), "host variants covered: {host:?}");
}

#[test]
fn no_orphan_fixtures() {
    if blessing() {
        return;
    }
    let known: Vec<String> = fixtures()
        .iter()
        .map(|(name, _)| format!("{name}.hex"))
        .collect();
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        panic!("{} is missing. {BLESS_HINT}", golden_dir().display());
    };
    let orphans: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".hex") && !known.contains(f))
        .collect();
    assert!(
        orphans.is_empty(),
        "fixtures no test checks (a message removed from golden.rs?): {orphans:?}"
    );
}
