//! Off-the-shelf device formats: chunking invariance, host clock, and properties of the
//! WitMotion and HX711 decoders over random, mutated and round-tripped streams.

use proprio::devices::hx711::{format_line, MAX_LINE_LEN};
use proprio::devices::witmotion::{
    ble_packet, serial_frame, SERIAL_ACC, SERIAL_ANGLE, SERIAL_FRAME_LEN, SERIAL_GYRO, SERIAL_MAG,
    SERIAL_QUATERNION,
};
use proprio::devices::{
    FormatError, FormatStats, Hx711Column, Hx711Format, Hx711TextDecoder, LoadUnit,
    WitmotionBleDecoder, WitmotionSerialDecoder, MAX_QUEUED_BYTES,
};
use proprio_protocol::{DeviceMessage, ImuSample, LoadSample};
use proptest::prelude::*;

type Outcome = Result<DeviceMessage, FormatError>;

/// The three decoders behind one face, for the tests that treat them alike.
enum Any {
    Ble(WitmotionBleDecoder),
    Serial(WitmotionSerialDecoder),
    Hx711(Hx711TextDecoder),
}

impl Any {
    fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        match self {
            Any::Ble(d) => d.push(bytes, t_host_us),
            Any::Serial(d) => d.push(bytes, t_host_us),
            Any::Hx711(d) => d.push(bytes, t_host_us),
        }
    }

    fn next(&mut self) -> Option<Outcome> {
        match self {
            Any::Ble(d) => d.next(),
            Any::Serial(d) => d.next(),
            Any::Hx711(d) => d.next(),
        }
    }

    fn drain(&mut self) -> Vec<Outcome> {
        std::iter::from_fn(|| self.next()).collect()
    }

    fn stats(&self) -> FormatStats {
        *match self {
            Any::Ble(d) => d.stats(),
            Any::Serial(d) => d.stats(),
            Any::Hx711(d) => d.stats(),
        }
    }

    fn buffered_bytes(&self) -> usize {
        match self {
            Any::Ble(d) => d.buffered_bytes(),
            Any::Serial(d) => d.buffered_bytes(),
            Any::Hx711(d) => d.buffered_bytes(),
        }
    }

    /// Most bytes left queued once `next` has returned `None`.
    fn max_idle_bytes(&self) -> usize {
        match self {
            // A packet waiting for the next header to confirm it.
            Any::Ble(_) => 20 + 1,
            // A frame waiting for the next 0x55 to confirm it.
            Any::Serial(_) => SERIAL_FRAME_LEN,
            Any::Hx711(_) => MAX_LINE_LEN,
        }
    }
}

fn decoders() -> Vec<Any> {
    let hx = Hx711Format {
        columns: Hx711Format::parse_columns("ms,TR,TL,BR,BL").unwrap(),
        delimiter: Some(';'),
        unit: LoadUnit::Counts,
        rate_hz: 80.0,
    };
    vec![
        Any::Ble(WitmotionBleDecoder::new(100.0)),
        Any::Serial(WitmotionSerialDecoder::new(100.0)),
        Any::Hx711(Hx711TextDecoder::new(hx)),
        Any::Hx711(Hx711TextDecoder::new(Hx711Format::default())),
    ]
}

fn imu_samples(outcomes: &[Outcome]) -> Vec<ImuSample> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(DeviceMessage::Imu(s)) => Some(*s),
            _ => None,
        })
        .collect()
}

fn load_samples(outcomes: &[Outcome]) -> Vec<LoadSample> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(DeviceMessage::Load(s)) => Some(*s),
            _ => None,
        })
        .collect()
}

// Streams with every kind of trouble in them ---------------------------------------------------

fn ble_stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..40i16 {
        s.extend_from_slice(&ble_packet(
            [i, -i, 2048],
            [i * 3, 0x6155, -i],
            [0x55, 0x61, i],
        ));
        match i % 10 {
            3 => s.extend_from_slice(&[0x01, 0x55, 0x61, 0x55, 0x02]),
            6 => s.extend_from_slice(&[0x55, 0x00]),
            9 => s.extend_from_slice(&[0x61; 3]),
            _ => {}
        }
    }
    s
}

fn serial_stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..40i16 {
        s.extend_from_slice(&serial_frame(SERIAL_ACC, [i, 0, 2048, 2500]));
        let mut gyro = serial_frame(SERIAL_GYRO, [0, i, 0x55, 0]);
        if i % 7 == 3 {
            gyro[5] ^= 0x04; // bad checksum
        }
        s.extend_from_slice(&gyro);
        s.extend_from_slice(&serial_frame(SERIAL_ANGLE, [0x5555, 0, 0, 0]));
        s.extend_from_slice(&serial_frame(SERIAL_MAG, [i, i, i, 0]));
        if i % 9 == 4 {
            s.extend_from_slice(&[0x13, 0x55, 0x51, 0x55]);
        }
    }
    s
}

fn hx711_stream() -> Vec<u8> {
    let mut s = b"HX711 ready\r\n\r\nTare done\r\n".to_vec();
    for i in 0..40u32 {
        let line = format!(
            "{};{};{};{};{}#\r\n",
            1000 + i * 12,
            i,
            2 * i,
            3 * i,
            -(i as i64)
        );
        s.extend_from_slice(line.as_bytes());
        if i == 20 {
            s.extend_from_slice(&[b'7'; 300]);
            s.extend_from_slice(b"\n1;2;3\n\xff;1;2;3;4\n");
        }
    }
    s
}

fn streams() -> [Vec<u8>; 4] {
    [
        ble_stream(),
        serial_stream(),
        hx711_stream(),
        hx711_stream(),
    ]
}

#[test]
fn trouble_streams_decode_as_expected() {
    let [ble, serial, hx, _] = streams();

    let mut d = WitmotionBleDecoder::new(100.0);
    d.push(&ble, 0);
    let out: Vec<Outcome> = std::iter::from_fn(|| d.next()).collect();
    let got: Vec<i16> = imu_samples(&out).iter().map(|s| s.acc[0]).collect();
    assert_eq!(got, (0..40).collect::<Vec<_>>());
    assert_eq!(d.stats().malformed, 12);
    assert_eq!(d.stats().bytes_discarded, 4 * 5 + 4 * 2 + 4 * 3);

    let mut d = WitmotionSerialDecoder::new(100.0);
    d.push(&serial, 0);
    let out: Vec<Outcome> = std::iter::from_fn(|| d.next()).collect();
    let got: Vec<i16> = imu_samples(&out).iter().map(|s| s.acc[0]).collect();
    let expected: Vec<i16> = (0..40).filter(|i| i % 7 != 3).collect();
    assert_eq!(got, expected);
    assert_eq!(d.stats().checksum_errors, 6);
    assert_eq!(d.stats().malformed, 4);

    let format = Hx711Format {
        columns: Hx711Format::parse_columns("ms,TR,TL,BR,BL").unwrap(),
        delimiter: Some(';'),
        unit: LoadUnit::Counts,
        rate_hz: 80.0,
    };
    let mut d = Hx711TextDecoder::new(format);
    d.push(&hx, 0);
    let out: Vec<Outcome> = std::iter::from_fn(|| d.next()).collect();
    let got = load_samples(&out);
    assert_eq!(got.len(), 40);
    assert_eq!(got[5].counts, [10, 5, 15, -5]);
    assert_eq!(got[5].t_us, 1_060_000);
    assert_eq!(
        d.stats(),
        &FormatStats {
            frames_ok: 40,
            malformed: 4,
            oversize: 1,
            bytes_discarded: 301,
            ..FormatStats::default()
        }
    );
}

#[test]
fn chunking_does_not_change_the_result() {
    for (stream, make) in streams().iter().zip(0..) {
        let t_host_us = 123_456_789;
        let mut whole = decoders().swap_remove(make);
        whole.push(stream, t_host_us);
        let expected = whole.drain();
        assert!(expected.len() > 40);
        for size in 1..=64 {
            let mut d = decoders().swap_remove(make);
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                d.push(chunk, t_host_us);
                got.extend(d.drain());
            }
            assert_eq!(got, expected, "decoder {make}, chunks of {size}");
            assert_eq!(d.stats(), whole.stats(), "decoder {make}, chunks of {size}");
            assert_eq!(d.buffered_bytes(), whole.buffered_bytes());
        }
    }
}

#[test]
fn host_clock_spaces_samples_that_arrive_together() {
    // Steady streaming at 100 Hz, read 5 packets at a time every 50 ms.
    let packets: Vec<u8> = (0..5)
        .flat_map(|i| ble_packet([i, 0, 2048], [0; 3], [0; 3]))
        .collect();
    let mut d = WitmotionBleDecoder::new(100.0);
    let mut times = Vec::new();
    for read in 0..4u64 {
        d.push(&packets, 1_000_000 + read * 50_000);
        let out: Vec<Outcome> = std::iter::from_fn(|| d.next()).collect();
        times.push(imu_samples(&out).iter().map(|s| s.t_us).collect::<Vec<_>>());
    }
    for (i, read) in times.iter().enumerate() {
        assert_eq!(read.len(), 5);
        for pair in read.windows(2) {
            assert_eq!(pair[1] - pair[0], 10_000, "{times:?}");
        }
        // Never further than 100 ms from when the read arrived.
        let received = 1_000_000 + i as u32 * 50_000;
        assert!(
            read.last().unwrap().abs_diff(received) <= 100_000,
            "{times:?}"
        );
    }
    assert!(
        times.concat().windows(2).skip(4).all(|w| w[1] > w[0]),
        "{times:?}"
    );
}

/// The first read after a (re)start: five packets in one chunk, nothing before them, are
/// spaced a period apart from the first one's receive time.
#[test]
fn host_clock_spaces_the_first_samples() {
    let packets: Vec<u8> = (0..5)
        .flat_map(|i| ble_packet([i, 0, 2048], [0; 3], [0; 3]))
        .collect();
    let mut d = WitmotionBleDecoder::new(100.0);
    d.push(&packets, 1_000_000);
    let out: Vec<Outcome> = std::iter::from_fn(|| d.next()).collect();
    let times: Vec<u32> = imu_samples(&out).iter().map(|s| s.t_us).collect();
    assert_eq!(times.len(), 5);
    assert!(times.windows(2).all(|w| w[1] == w[0] + 10_000), "{times:?}");
}

#[test]
fn memory_stays_bounded_without_next() {
    for mut d in decoders() {
        let chunk = vec![0x55u8; 100_000];
        for _ in 0..(MAX_QUEUED_BYTES / chunk.len() + 3) {
            d.push(&chunk, 0);
            assert!(d.buffered_bytes() <= MAX_QUEUED_BYTES);
        }
        let dropped = d.stats().bytes_discarded;
        assert!(dropped >= 2 * chunk.len() as u64, "{dropped}");
        d.drain();
        assert!(d.buffered_bytes() <= d.max_idle_bytes());
    }
}

// Properties -----------------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes that look like the formats: many headers, digits and delimiters.
fn noisy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        2 => Just(0x55u8),
        1 => prop::sample::select(vec![0x61u8, 0x51, 0x52, 0x54]),
        2 => prop::sample::select(b"0123456789-.,;# \r\n".to_vec()),
    ]
}

/// A stream of serial frames (mostly full cycles) for mutation.
fn serial_frames() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec![
        SERIAL_ACC,
        SERIAL_GYRO,
        SERIAL_ANGLE,
        SERIAL_MAG,
        SERIAL_QUATERNION,
        0x50,
    ]);
    prop::collection::vec((kind, any::<[i16; 4]>(), any::<bool>()), 1..60).prop_map(|frames| {
        let mut s = Vec::new();
        for (kind, values, cycle) in frames {
            if cycle {
                s.extend_from_slice(&serial_frame(SERIAL_ACC, values));
                s.extend_from_slice(&serial_frame(SERIAL_GYRO, values));
            } else {
                s.extend_from_slice(&serial_frame(kind, values));
            }
        }
        s
    })
}

/// Whether `bytes` holds a frame of type `kind` with a correct checksum whose first three
/// values are `xyz`.
fn has_valid_frame(bytes: &[u8], kind: u8, xyz: [i16; 3]) -> bool {
    bytes.windows(SERIAL_FRAME_LEN).any(|w| {
        let sum = w[..10].iter().fold(0u8, |s, &b| s.wrapping_add(b));
        let v = |i: usize| i16::from_le_bytes([w[2 + 2 * i], w[3 + 2 * i]]);
        w[0] == 0x55 && w[1] == kind && w[10] == sum && [v(0), v(1), v(2)] == xyz
    })
}

fn chunked(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut rest = stream;
    for &cut in cuts.iter().cycle().take(stream.len() + 1) {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(cut.clamp(1, rest.len()));
        chunks.push(head.to_vec());
        rest = tail;
    }
    chunks
}

fn hx711_format() -> impl Strategy<Value = Hx711Format> {
    let corners = Just(vec![
        Hx711Column::FrontLeft,
        Hx711Column::FrontRight,
        Hx711Column::BackRight,
        Hx711Column::BackLeft,
    ])
    .prop_shuffle();
    (
        corners,
        any::<bool>(),
        any::<bool>(),
        0usize..6,
        0usize..6,
        prop::sample::select(vec![None, Some(','), Some(';'), Some('\t'), Some(' ')]),
        any::<bool>(),
    )
        .prop_map(
            |(mut columns, millis, skip, at_millis, at_skip, delimiter, kg)| {
                if millis {
                    columns.insert(at_millis.min(columns.len()), Hx711Column::Millis);
                }
                if skip {
                    columns.insert(at_skip.min(columns.len()), Hx711Column::Skip);
                }
                Hx711Format {
                    columns,
                    delimiter,
                    unit: if kg {
                        LoadUnit::Kilograms
                    } else {
                        LoadUnit::Counts
                    },
                    rate_hz: 80.0,
                }
            },
        )
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(
        bytes in prop::collection::vec(noisy_byte(), 0..3000),
        cuts in prop::collection::vec(1usize..200, 1..20),
    ) {
        for mut d in decoders() {
            let mut seqs = Vec::new();
            for (k, chunk) in chunked(&bytes, &cuts).iter().enumerate() {
                d.push(chunk, k as u64 * 1000);
                for outcome in d.drain() {
                    match outcome {
                        Ok(DeviceMessage::Imu(s)) => seqs.push(s.seq),
                        Ok(DeviceMessage::Load(s)) => seqs.push(s.seq),
                        _ => {}
                    }
                }
                prop_assert!(d.buffered_bytes() <= d.max_idle_bytes());
            }
            prop_assert!(seqs.iter().copied().eq(0..seqs.len() as u32));
            let stats = d.stats();
            prop_assert!(stats.bytes_discarded <= bytes.len() as u64);
        }
    }

    #[test]
    fn ble_round_trip(
        packets in prop::collection::vec(any::<([i16; 3], [i16; 3], [i16; 3])>(), 1..50),
        cuts in prop::collection::vec(1usize..64, 1..10),
    ) {
        let stream: Vec<u8> = packets
            .iter()
            .flat_map(|&(a, g, e)| ble_packet(a, g, e))
            .collect();
        let mut d = WitmotionBleDecoder::new(50.0);
        let mut out = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            d.push(&chunk, 0);
            out.extend(std::iter::from_fn(|| d.next()));
        }
        let got: Vec<([i16; 3], [i16; 3])> =
            imu_samples(&out).iter().map(|s| (s.acc, s.gyr)).collect();
        let want: Vec<([i16; 3], [i16; 3])> = packets.iter().map(|&(a, g, _)| (a, g)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(d.stats().frames_ok, packets.len() as u64);
        prop_assert_eq!(d.stats().malformed + d.stats().bytes_discarded, 0);
    }

    #[test]
    fn serial_round_trip(
        cycles in prop::collection::vec(any::<([i16; 3], [i16; 3], [i16; 3])>(), 1..50),
        cuts in prop::collection::vec(1usize..64, 1..10),
    ) {
        let mut stream = Vec::new();
        for &(a, g, m) in &cycles {
            stream.extend_from_slice(&serial_frame(SERIAL_ACC, [a[0], a[1], a[2], 2500]));
            stream.extend_from_slice(&serial_frame(SERIAL_GYRO, [g[0], g[1], g[2], 0]));
            stream.extend_from_slice(&serial_frame(SERIAL_ANGLE, [0x5555; 4]));
            stream.extend_from_slice(&serial_frame(SERIAL_MAG, [m[0], m[1], m[2], 0]));
        }
        let mut d = WitmotionSerialDecoder::new(50.0);
        let mut out = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            d.push(&chunk, 0);
            out.extend(std::iter::from_fn(|| d.next()));
        }
        let got: Vec<ImuSample> = imu_samples(&out);
        prop_assert_eq!(got.len(), cycles.len());
        for (k, (s, &(a, g, _))) in got.iter().zip(&cycles).enumerate() {
            prop_assert_eq!(s.acc, a);
            prop_assert_eq!(s.gyr, g);
            // The magnetometer frame follows the gyro frame: it goes with the next sample.
            let mag = k.checked_sub(1).map(|p| cycles[p].2);
            prop_assert_eq!(s.mag, mag);
        }
        prop_assert_eq!(d.stats().frames_ok, 4 * cycles.len() as u64);
    }

    #[test]
    fn mutated_serial_streams_emit_only_checksummed_frames(
        stream in serial_frames(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..8),
        cuts in prop::collection::vec(1usize..64, 1..10),
    ) {
        let mut bytes = stream;
        for (at, bit) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let mut d = WitmotionSerialDecoder::new(100.0);
        let mut out = Vec::new();
        for chunk in chunked(&bytes, &cuts) {
            d.push(&chunk, 0);
            out.extend(std::iter::from_fn(|| d.next()));
            prop_assert!(d.buffered_bytes() <= SERIAL_FRAME_LEN);
        }
        for s in imu_samples(&out) {
            prop_assert!(has_valid_frame(&bytes, SERIAL_ACC, s.acc), "acc {:?}", s.acc);
            prop_assert!(has_valid_frame(&bytes, SERIAL_GYRO, s.gyr), "gyr {:?}", s.gyr);
            if let Some(mag) = s.mag {
                prop_assert!(has_valid_frame(&bytes, SERIAL_MAG, mag), "mag {:?}", mag);
            }
        }
    }

    #[test]
    fn mutated_ble_and_hx711_streams_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..16),
        cuts in prop::collection::vec(1usize..64, 1..10),
    ) {
        for (stream, make) in streams().into_iter().zip(0..) {
            let mut bytes = stream;
            for (at, bit) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            let mut d = decoders().swap_remove(make);
            let mut samples = 0usize;
            for chunk in chunked(&bytes, &cuts) {
                d.push(&chunk, 0);
                samples += d.drain().iter().filter(|o| {
                    matches!(o, Ok(DeviceMessage::Imu(_)) | Ok(DeviceMessage::Load(_)))
                }).count();
                prop_assert!(d.buffered_bytes() <= d.max_idle_bytes());
            }
            // Each flip can damage or fake a few frames, never many.
            prop_assert!(samples <= 40 + 2 * flips.len(), "{} samples", samples);
        }
    }

    #[test]
    fn hx711_round_trip(
        format in hx711_format(),
        rows in prop::collection::vec((any::<u32>(), any::<[i32; 4]>()), 1..40),
        cuts in prop::collection::vec(1usize..64, 1..10),
    ) {
        let text: String = rows
            .iter()
            .map(|&(ms, counts)| format_line(&format, ms, counts))
            .collect();
        let mut d = Hx711TextDecoder::new(format.clone());
        let mut out = Vec::new();
        for chunk in chunked(text.as_bytes(), &cuts) {
            d.push(&chunk, 5_000_000);
            out.extend(std::iter::from_fn(|| d.next()));
        }
        let got = load_samples(&out);
        prop_assert_eq!(got.len(), rows.len(), "{:?}", out);
        let has_millis = format.columns.contains(&Hx711Column::Millis);
        for (k, (s, &(ms, counts))) in got.iter().zip(&rows).enumerate() {
            prop_assert_eq!(s.seq, k as u32);
            prop_assert_eq!(s.counts, counts);
            if has_millis {
                prop_assert_eq!(s.t_us, ms.wrapping_mul(1000));
            }
        }
        prop_assert_eq!(d.stats().frames_ok, rows.len() as u64);
        prop_assert_eq!(d.buffered_bytes(), 0);
    }
}
