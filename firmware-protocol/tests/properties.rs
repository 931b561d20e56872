//! Property tests: round trips, and what single bit flips and truncation can (not) do.

mod common;

use common::{decode_all, frame, messages};
use proprio_protocol::{
    Ack, AckStatus, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, FrameError,
    HostCommandKind, HostMessage, ImuBatch, ImuSample, LoadSample, Status, MAX_BATCH,
    MAX_FRAME_LEN,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

// Strategies -----------------------------------------------------------------------------------

/// Any f32 bit pattern, NaNs and infinities included. Messages are therefore compared by their
/// encoded bytes (`same`), not with `==` (NaN != NaN).
fn any_f32() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(f32::from_bits)
}

fn device_info() -> impl Strategy<Value = DeviceInfo> {
    (
        prop_oneof![Just(DeviceKind::Wearable), Just(DeviceKind::BalanceBoard)],
        any::<[u8; 3]>(),
        any::<u32>(),
        [any_f32(), any_f32(), any_f32(), any_f32(), any_f32()],
    )
        .prop_map(|(kind, [major, minor, patch], device_id, f)| DeviceInfo {
            kind,
            firmware: FirmwareVersion {
                major,
                minor,
                patch,
            },
            device_id,
            sample_rate_hz: f[0],
            acc_m_s2_per_lsb: f[1],
            gyr_rad_s_per_lsb: f[2],
            mag_ut_per_lsb: f[3],
            load_n_per_count: f[4],
        })
}

fn imu_sample() -> impl Strategy<Value = ImuSample> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<[i16; 3]>(),
        any::<[i16; 3]>(),
        proptest::option::of(any::<[i16; 3]>()),
    )
        .prop_map(|(seq, t_us, acc, gyr, mag)| ImuSample {
            seq,
            t_us,
            acc,
            gyr,
            mag,
        })
}

fn command_kind() -> impl Strategy<Value = HostCommandKind> {
    prop_oneof![
        Just(HostCommandKind::GetInfo),
        Just(HostCommandKind::Start),
        Just(HostCommandKind::Stop),
        Just(HostCommandKind::Tare),
        Just(HostCommandKind::Vibrate),
    ]
}

fn ack_status() -> impl Strategy<Value = AckStatus> {
    prop_oneof![
        Just(AckStatus::Ok),
        Just(AckStatus::Unsupported),
        Just(AckStatus::InvalidArgument),
    ]
}

fn device_message() -> impl Strategy<Value = DeviceMessage> {
    prop_oneof![
        device_info().prop_map(DeviceMessage::Hello),
        imu_sample().prop_map(DeviceMessage::Imu),
        proptest::collection::vec(imu_sample(), 0..=MAX_BATCH).prop_map(|samples| {
            DeviceMessage::ImuBatch(ImuBatch {
                samples: heapless::Vec::from_slice(&samples).unwrap(),
            })
        }),
        (any::<u32>(), any::<u32>(), any::<[i32; 4]>()).prop_map(|(seq, t_us, counts)| {
            DeviceMessage::Load(LoadSample { seq, t_us, counts })
        }),
        (any::<u8>(), any::<u16>(), any::<bool>()).prop_map(
            |(battery_percent, battery_mv, charging)| DeviceMessage::Status(Status {
                battery_percent,
                battery_mv,
                charging,
            })
        ),
        (command_kind(), ack_status())
            .prop_map(|(command, status)| DeviceMessage::Ack(Ack { command, status })),
    ]
}

fn host_message() -> impl Strategy<Value = HostMessage> {
    prop_oneof![
        Just(HostMessage::GetInfo),
        any::<u16>().prop_map(|rate_hz| HostMessage::Start { rate_hz }),
        Just(HostMessage::Stop),
        Just(HostMessage::Tare),
        any::<u16>().prop_map(|duration_ms| HostMessage::Vibrate { duration_ms }),
    ]
}

// Helpers --------------------------------------------------------------------------------------

/// Equality by wire bytes (bit-exact, so NaN payloads count too).
fn same(a: &[DeviceMessage], b: &[DeviceMessage]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| frame(x) == frame(y))
}

/// The frames of `msgs` back to back, and where each frame ends (index of its delimiter).
fn frames(msgs: &[DeviceMessage]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for msg in msgs {
        bytes.extend(frame(msg));
        ends.push(bytes.len() - 1);
    }
    (bytes, ends)
}

/// Whether `got` is `sent` with some of the frames at `may_lose` missing (and nothing else
/// missing, added, changed or reordered).
fn is_sent_minus_some_of(
    got: &[DeviceMessage],
    sent: &[DeviceMessage],
    may_lose: &[usize],
) -> bool {
    (0u32..1 << may_lose.len()).any(|drop_mask| {
        let kept: Vec<DeviceMessage> = sent
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                may_lose
                    .iter()
                    .position(|l| l == i)
                    .is_none_or(|bit| drop_mask & (1 << bit) == 0)
            })
            .map(|(_, m)| m.clone())
            .collect();
        same(got, &kept)
    })
}

/// Config for the corruption properties.
///
/// A CRC-16 catches every error of up to 3 bits and every burst up to 16 bits, so a flipped
/// data byte is always caught. But a single flipped bit can also change the frame structure,
/// by way of COBS: a flipped length code re-splits the rest of the frame, a data byte flipped
/// to 0x00 cuts it in two, a flipped delimiter joins two. Usually that breaks the COBS and the
/// frame is a `Cobs` error; about one time in ten (measured) it leaves valid COBS with
/// scrambled content, which the CRC then accepts with probability 2⁻¹⁶. That is the
/// protocol's residual error rate, not a bug, but over the thousands of flips and cuts these
/// tests make it would fail a random-seed run roughly once in a few hundred runs. So these
/// two run from a fixed seed: reproducible, and still a full regression test of the decoder.
fn corruption_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x7072_6f70_7269_6f00),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// (a) round trips ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn device_messages_round_trip(msg in device_message()) {
        let bytes = frame(&msg);
        prop_assert!(bytes.len() <= MAX_FRAME_LEN);
        prop_assert_eq!(bytes.last(), Some(&0));
        prop_assert!(!bytes[..bytes.len() - 1].contains(&0));
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        prop_assert_eq!(outcomes.len(), 1);
        let decoded = outcomes[0].clone().expect("a valid frame decodes");
        prop_assert!(same(&[decoded], &[msg]));
        prop_assert_eq!(stats.frames_ok, 1);
        prop_assert_eq!(stats.frames_rejected(), 0);
    }

    #[test]
    fn host_messages_round_trip(msg in host_message()) {
        let (outcomes, _) = decode_all::<HostMessage>(&frame(&msg));
        prop_assert_eq!(outcomes, vec![Ok(msg)]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_every_outcome_is_counted(
        bytes in proptest::collection::vec(
            prop_oneof![3 => any::<u8>(), 1 => Just(0u8)], 0..1500)
    ) {
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        let errors = outcomes.iter().filter(|o| o.is_err()).count() as u64;
        prop_assert_eq!(stats.frames_ok + stats.frames_rejected(), outcomes.len() as u64);
        prop_assert_eq!(stats.frames_rejected(), errors);
        prop_assert!(stats.bytes_discarded <= bytes.len() as u64);
    }
}

// (b) single bit flips -------------------------------------------------------------------------

proptest! {
    #![proptest_config(corruption_config(40))]

    /// Every single-bit flip anywhere in a stream: no panic, no message that was not sent, and
    /// every frame the flip did not touch still decodes, in order.
    #[test]
    fn a_flipped_bit_costs_at_most_the_frames_it_touches(
        msgs in proptest::collection::vec(device_message(), 1..6)
    ) {
        let (bytes, ends) = frames(&msgs);
        for at in 0..bytes.len() {
            let hit = ends.iter().position(|&end| at <= end).unwrap();
            // A flipped delimiter joins its frame to the next one.
            let touched: Vec<usize> = if at == ends[hit] && hit + 1 < msgs.len() {
                vec![hit, hit + 1]
            } else {
                vec![hit]
            };
            for bit in 0..8 {
                let mut corrupted = bytes.clone();
                corrupted[at] ^= 1 << bit;
                let (outcomes, stats) = decode_all::<DeviceMessage>(&corrupted);
                let got = messages(outcomes);
                prop_assert!(
                    is_sent_minus_some_of(&got, &msgs, &touched),
                    "flip of bit {} of byte {} (frames {:?}): got {:?}\nsent {:?}",
                    bit, at, touched, got, msgs
                );
                prop_assert!(stats.frames_rejected() <= bytes.len() as u64);
            }
        }
    }
}

// (c) truncation -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(corruption_config(40))]

    /// A stream cut anywhere (a reset mid-frame, a dropped connection) and continued with more
    /// frames: everything before the cut that was complete decodes, the truncated frame is
    /// lost and may take the first frame after the cut with it, everything else decodes.
    #[test]
    fn truncation_costs_at_most_the_next_frame(
        before in proptest::collection::vec(device_message(), 1..5),
        after in proptest::collection::vec(device_message(), 1..5),
    ) {
        let (bytes, ends) = frames(&before);
        let (tail, _) = frames(&after);
        for cut in 0..=bytes.len() {
            let complete = ends.iter().filter(|&&end| end < cut).count();
            let clean_cut = cut == 0 || ends.contains(&(cut - 1));
            let mut stream = bytes[..cut].to_vec();
            stream.extend(&tail);
            let (outcomes, stats) = decode_all::<DeviceMessage>(&stream);
            let got = messages(outcomes);

            let mut sent = before[..complete].to_vec();
            sent.extend(after.iter().cloned());
            let may_lose = if clean_cut { vec![] } else { vec![complete] };
            prop_assert!(
                is_sent_minus_some_of(&got, &sent, &may_lose),
                "cut at {} of {}: got {:?}\nexpected {:?} (may lose #{:?})",
                cut, bytes.len(), got, sent, may_lose
            );
            prop_assert!(stats.frames_rejected() <= u64::from(!clean_cut));
        }
    }
}

// Not a property, but the corner of (c) worth spelling out.
#[test]
fn a_frame_cut_just_before_its_delimiter_merges_with_the_next() {
    let a = DeviceMessage::Status(Status {
        battery_percent: 1,
        battery_mv: 3700,
        charging: false,
    });
    let b = DeviceMessage::Status(Status {
        battery_percent: 2,
        battery_mv: 3700,
        charging: false,
    });
    let c = DeviceMessage::Status(Status {
        battery_percent: 3,
        battery_mv: 3700,
        charging: false,
    });
    let fa = frame(&a);
    let mut stream = fa[..fa.len() - 1].to_vec();
    stream.extend(frame(&b));
    stream.extend(frame(&c));
    let (outcomes, _) = decode_all::<DeviceMessage>(&stream);
    assert_eq!(outcomes.len(), 2);
    assert!(matches!(
        outcomes[0],
        Err(FrameError::Cobs | FrameError::Crc | FrameError::TooShort)
    ));
    assert_eq!(outcomes[1], Ok(c));
}
