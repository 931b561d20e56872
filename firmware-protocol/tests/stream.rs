//! The decoder on whole byte streams: chunking, garbage, oversize runs, bad frames.

mod common;

use common::{
    decode_all, decode_bytewise, decode_chunked, frame, messages, mixed_messages, raw_frame,
    stream, Rng,
};
use proprio_protocol::{
    DecodeStats, DeviceMessage, FrameError, HostMessage, Status, MAX_BATCH, MAX_FRAME_LEN,
    MAX_PAYLOAD_LEN, VERSION,
};

fn status(battery_percent: u8) -> DeviceMessage {
    DeviceMessage::Status(Status {
        battery_percent,
        battery_mv: 3900,
        charging: false,
    })
}

// (a) -----------------------------------------------------------------------------------------

#[test]
fn chunking_never_changes_the_outcome() {
    let msgs = mixed_messages(300, 1);
    let mut bytes = stream(&msgs[..10]);
    // Some garbage and flush delimiters too, so errors must also come out identically.
    bytes.extend([0x00, 0x13, 0x37, 0x00, 0x00, 0x09, 0x00]);
    bytes.extend(stream(&msgs[10..]));
    let whole = decode_all::<DeviceMessage>(&bytes);
    assert!(
        messages(whole.0.clone()) == msgs,
        "messages lost or changed"
    );
    assert_eq!(whole.1.frames_ok, msgs.len() as u64);
    assert_eq!(whole.1.frames_rejected(), 2);
    assert_eq!(whole.0.len(), msgs.len() + 2);

    assert_eq!(decode_bytewise::<DeviceMessage>(&bytes), whole, "push_byte");
    for chunk in 1..=64 {
        assert_eq!(
            decode_chunked::<DeviceMessage>(&bytes, chunk),
            whole,
            "chunks of {chunk} bytes"
        );
    }
}

#[test]
fn frames_split_like_ble_notifications_decode() {
    // 20-byte notifications: the default ATT MTU.
    let msgs = mixed_messages(50, 2);
    let (outcomes, stats) = decode_chunked::<DeviceMessage>(&stream(&msgs), 20);
    assert_eq!(messages(outcomes), msgs);
    assert_eq!(stats.frames_rejected(), 0);
    assert_eq!(stats.bytes_discarded, 0);
}

// (b) -----------------------------------------------------------------------------------------

/// Expected stats for `garbage` when it sits between frames: each non-empty run between
/// delimiters is one rejected frame, all of its bytes and its delimiter discarded.
fn garbage_runs(garbage: &[u8]) -> (u64, u64) {
    assert_eq!(
        garbage.last(),
        Some(&0),
        "garbage must end in a delimiter here"
    );
    let runs: Vec<&[u8]> = garbage
        .split(|&b| b == 0)
        .filter(|run| !run.is_empty())
        .collect();
    let bytes = runs.iter().map(|run| run.len() as u64 + 1).sum();
    (runs.len() as u64, bytes)
}

#[test]
fn garbage_between_frames_is_counted_and_skipped() {
    for seed in 0..20 {
        let mut rng = Rng::new(seed);
        let msgs = mixed_messages(40, seed);
        let mut bytes = Vec::new();
        let (mut rejected, mut discarded) = (0, 0);
        for msg in &msgs {
            if rng.below(2) == 0 {
                // Random bytes (about one in sixteen a zero), ended by a delimiter so that the
                // next frame starts clean.
                let len = rng.below(80) as usize;
                let mut garbage: Vec<u8> = (0..len)
                    .map(|_| {
                        if rng.below(16) == 0 {
                            0
                        } else {
                            rng.nonzero_byte()
                        }
                    })
                    .collect();
                garbage.push(0);
                let (r, d) = garbage_runs(&garbage);
                rejected += r;
                discarded += d;
                bytes.extend(garbage);
            }
            bytes.extend(frame(msg));
        }
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        let errors = outcomes.iter().filter(|o| o.is_err()).count() as u64;
        assert_eq!(messages(outcomes), msgs, "seed {seed}");
        assert_eq!(stats.frames_ok, msgs.len() as u64);
        assert_eq!(stats.frames_rejected(), rejected, "seed {seed}: {stats:?}");
        assert_eq!(errors, rejected, "each rejection is reported once");
        assert_eq!(stats.bytes_discarded, discarded, "seed {seed}: {stats:?}");
        assert_eq!(stats.oversize, 0);
    }
}

#[test]
fn garbage_without_a_delimiter_costs_exactly_the_next_frame() {
    let msgs = [status(1), status(2), status(3)];
    let mut bytes = frame(&msgs[0]);
    bytes.extend([0x42, 0x99, 0xfe, 0x01]); // line noise, no 0x00: merges with the next frame
    bytes.extend(frame(&msgs[1]));
    bytes.extend(frame(&msgs[2]));
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], Ok(msgs[0].clone()));
    assert!(outcomes[1].is_err(), "{:?}", outcomes[1]);
    assert_eq!(outcomes[2], Ok(msgs[2].clone()));
    assert_eq!(stats.frames_ok, 2);
    assert_eq!(stats.frames_rejected(), 1);
    assert_eq!(stats.bytes_discarded, 4 + frame(&msgs[1]).len() as u64);

    // A flush delimiter before each frame (an empty frame, ignored) protects it.
    let mut bytes = frame(&msgs[0]);
    bytes.extend([0x42, 0x99, 0xfe, 0x01]);
    for msg in &msgs[1..] {
        bytes.push(0);
        bytes.extend(frame(msg));
    }
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes.len(), 4);
    assert_eq!(messages(outcomes), msgs);
    assert_eq!(stats.frames_rejected(), 1);
    assert_eq!(stats.bytes_discarded, 5);
}

#[test]
fn empty_frames_are_ignored() {
    let mut bytes = vec![0, 0, 0];
    bytes.extend(frame(&status(5)));
    bytes.extend([0, 0]);
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes, [Ok(status(5))]);
    assert_eq!(
        stats,
        DecodeStats {
            frames_ok: 1,
            ..DecodeStats::default()
        }
    );
}

// (c) -----------------------------------------------------------------------------------------

#[test]
fn oversize_run_is_counted_once_and_the_next_frame_decodes() {
    for run_len in [MAX_FRAME_LEN, MAX_FRAME_LEN + 1, 600, 5000] {
        let mut rng = Rng::new(run_len as u64);
        let mut bytes = frame(&status(1));
        let run: Vec<u8> = (0..run_len).map(|_| rng.nonzero_byte()).collect();
        bytes.extend(&run);
        bytes.push(0);
        bytes.extend(frame(&status(2)));
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        assert_eq!(
            outcomes,
            [Ok(status(1)), Err(FrameError::Oversize), Ok(status(2))],
            "run of {run_len}"
        );
        assert_eq!(stats.oversize, 1);
        assert_eq!(stats.frames_rejected(), 1);
        assert_eq!(stats.frames_ok, 2);
        // Every byte of the run and its delimiter, as for any other rejected frame.
        assert_eq!(
            stats.bytes_discarded,
            run_len as u64 + 1,
            "run of {run_len}"
        );
    }
}

#[test]
fn oversize_run_swallows_a_frame_it_runs_into() {
    // No delimiter between the run and the next frame: that frame is part of the oversize
    // "frame" and lost, the one after decodes.
    let mut bytes = vec![0x55; 700];
    bytes.extend(frame(&status(1)));
    bytes.extend(frame(&status(2)));
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes, [Err(FrameError::Oversize), Ok(status(2))]);
    assert_eq!(stats.oversize, 1);
    assert_eq!(stats.bytes_discarded, 700 + frame(&status(1)).len() as u64);
}

#[test]
fn frame_of_exactly_max_frame_len_is_accepted() {
    // A message followed by trailing bytes (which the decoder ignores) padded to the largest
    // content: COBS adds 3 bytes, the delimiter 1, so the frame is exactly MAX_FRAME_LEN.
    let mut content = vec![VERSION];
    content.extend(
        postcard::to_slice(&status(9), &mut [0u8; 16])
            .unwrap()
            .iter(),
    );
    content.resize(MAX_PAYLOAD_LEN - 2, 0xAA);
    let largest = raw_frame(&content);
    assert!(largest.len() <= MAX_FRAME_LEN);
    let (outcomes, stats) = decode_all::<DeviceMessage>(&largest);
    assert_eq!(outcomes, [Ok(status(9))]);
    assert_eq!(stats.oversize, 0);

    // Pad the COBS output with non-zero bytes until the frame is exactly MAX_FRAME_LEN long
    // and then one longer: the first is a CRC error (not oversize), the second oversize.
    let mut body = largest[..largest.len() - 1].to_vec();
    while body.len() < MAX_FRAME_LEN - 1 {
        body.push(0x01);
    }
    let mut exact = body.clone();
    exact.push(0);
    assert_eq!(exact.len(), MAX_FRAME_LEN);
    let (outcomes, _) = decode_all::<DeviceMessage>(&exact);
    assert_ne!(outcomes, [Err(FrameError::Oversize)]);
    let mut over = body;
    over.extend([0x01, 0x00]);
    assert_eq!(over.len(), MAX_FRAME_LEN + 1);
    let (outcomes, stats) = decode_all::<DeviceMessage>(&over);
    assert_eq!(outcomes, [Err(FrameError::Oversize)]);
    assert_eq!(stats.bytes_discarded, MAX_FRAME_LEN as u64 + 1);
}

// (d) -----------------------------------------------------------------------------------------

#[test]
fn unknown_version_is_reported_after_a_good_crc() {
    let body = postcard::to_slice(&status(50), &mut [0u8; 16])
        .unwrap()
        .to_vec();
    let mut v2 = vec![2];
    v2.extend(&body);
    let mut bytes = raw_frame(&v2);
    bytes.extend(frame(&status(51)));
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(
        outcomes,
        [Err(FrameError::UnknownVersion(2)), Ok(status(51))]
    );
    assert_eq!(stats.unknown_version, 1);
    assert_eq!(stats.frames_rejected(), 1);

    // The same frame with its version byte corrupted in transit is a CRC error instead.
    let mut v1 = vec![VERSION];
    v1.extend(&body);
    let mut corrupted = raw_frame(&v1);
    assert_eq!(corrupted[1], VERSION);
    corrupted[1] = 2;
    let (outcomes, stats) = decode_all::<DeviceMessage>(&corrupted);
    assert_eq!(outcomes, [Err(FrameError::Crc)]);
    assert_eq!(stats.crc_errors, 1);
}

// (e) -----------------------------------------------------------------------------------------

#[test]
fn good_crc_but_unknown_content_is_malformed() {
    let cases: &[(&str, &[u8])] = &[
        ("DeviceMessage variant 6", &[VERSION, 6, 1, 2, 3]),
        (
            "DeviceMessage variant 200 (two-byte varint)",
            &[VERSION, 0xc8, 0x01],
        ),
        ("no message at all", &[VERSION]),
        ("Status cut short", &[VERSION, 4, 87]),
        ("bool that is 2", &[VERSION, 4, 87, 0xac, 0x1f, 2]),
        ("Ack with HostCommandKind 5", &[VERSION, 5, 5, 0]),
        ("Ack with AckStatus 3", &[VERSION, 5, 0, 3]),
        (
            "ImuSample with Option tag 2",
            &[VERSION, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        ),
        (
            "ImuBatch longer than MAX_BATCH",
            &[VERSION, 2, MAX_BATCH as u8 + 1],
        ),
    ];
    for (what, content) in cases {
        let mut bytes = raw_frame(content);
        bytes.extend(frame(&status(3)));
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        assert_eq!(
            outcomes,
            [Err(FrameError::Malformed), Ok(status(3))],
            "{what}"
        );
        assert_eq!(stats.malformed, 1, "{what}");
        assert_eq!(stats.bytes_discarded, raw_frame(content).len() as u64);
    }

    // Host side: HostMessage variant 5 does not exist (yet).
    let (outcomes, stats) = decode_all::<HostMessage>(&raw_frame(&[VERSION, 5]));
    assert_eq!(outcomes, [Err(FrameError::Malformed)]);
    assert_eq!(stats.malformed, 1);
}

#[test]
fn trailing_bytes_after_a_valid_message_are_ignored() {
    let mut content = vec![VERSION];
    content.extend(
        postcard::to_slice(&status(60), &mut [0u8; 16])
            .unwrap()
            .iter(),
    );
    content.extend([0x07, 0x00, 0xff]); // e.g. a field a newer firmware appended
    let (outcomes, stats) = decode_all::<DeviceMessage>(&raw_frame(&content));
    assert_eq!(outcomes, [Ok(status(60))]);
    assert_eq!(stats.frames_ok, 1);
}

// (f) -----------------------------------------------------------------------------------------

#[test]
fn frames_shorter_than_version_and_crc_are_too_short() {
    // COBS-encoded lengths 0, 1, 2 after decoding: `01` → [], `02 01` → [01],
    // `03 01 02` → [01 02], `01 01` → [00].
    let cases: &[&[u8]] = &[&[0x01], &[0x02, 0x01], &[0x03, 0x01, 0x02], &[0x01, 0x01]];
    for cobs in cases {
        let mut bytes = cobs.to_vec();
        bytes.push(0);
        bytes.extend(frame(&status(4)));
        let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
        assert_eq!(
            outcomes,
            [Err(FrameError::TooShort), Ok(status(4))],
            "{cobs:02x?}"
        );
        assert_eq!(stats.too_short, 1);
        assert_eq!(stats.bytes_discarded, cobs.len() as u64 + 1);
    }
}

#[test]
fn invalid_cobs_is_a_cobs_error() {
    // A block code pointing past the delimiter.
    let mut bytes = vec![0x09, 0x01, 0x02, 0x00];
    bytes.extend(frame(&status(8)));
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes, [Err(FrameError::Cobs), Ok(status(8))]);
    assert_eq!(stats.cobs_errors, 1);
}

#[test]
fn a_flipped_payload_byte_is_a_crc_error() {
    let mut bytes = frame(&status(70));
    bytes[3] ^= 0x10;
    bytes.extend(frame(&status(71)));
    let (outcomes, stats) = decode_all::<DeviceMessage>(&bytes);
    assert_eq!(outcomes, [Err(FrameError::Crc), Ok(status(71))]);
    assert_eq!(stats.crc_errors, 1);
}

#[test]
fn mid_frame_state_is_visible() {
    let bytes = frame(&status(10));
    let mut decoder = proprio_protocol::Decoder::<DeviceMessage>::new();
    assert!(!decoder.is_mid_frame());
    assert_eq!(decoder.feed(&bytes[..3]), (None, &[][..]));
    assert!(decoder.is_mid_frame());
    assert_eq!(decoder.feed(&bytes[3..]), (Some(Ok(status(10))), &[][..]));
    assert!(!decoder.is_mid_frame());
}

/// A link that drops mid-frame and comes back mid-frame: `resync` drops both halves silently.
#[test]
fn resync_drops_an_interrupted_frame_without_an_error() {
    let first = frame(&status(20));
    let lost = frame(&status(21));
    let after = frame(&status(22));
    let mut decoder = proprio_protocol::Decoder::<DeviceMessage>::new();
    assert_eq!(decoder.feed(&first[..4]), (None, &[][..]));
    decoder.resync();
    // The stream resumes inside another frame: its tail, then whole frames.
    let mut resumed = lost[5..].to_vec();
    resumed.extend_from_slice(&after);
    let mut outcomes = Vec::new();
    let mut rest = &resumed[..];
    while !rest.is_empty() {
        let (outcome, tail) = decoder.feed(rest);
        outcomes.extend(outcome);
        rest = tail;
    }
    assert_eq!(outcomes, [Ok(status(22))]);
    let stats = decoder.stats();
    assert_eq!(stats.frames_rejected(), 0);
    assert_eq!(stats.bytes_discarded, 4 + (lost.len() - 5) as u64);
    // With nothing buffered, resync skips only up to the next delimiter.
    decoder.resync();
    assert_eq!(decoder.feed(&[0]), (None, &[][..]));
    assert_eq!(decoder.feed(&first), (Some(Ok(status(20))), &[][..]));
}

/// `feed` copies runs between delimiters at once; it must behave exactly as `push_byte` on
/// every byte, oversize runs and garbage included.
#[test]
fn feed_equals_push_byte_byte_by_byte() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut stream = Vec::new();
    let mut buf = [0u8; proprio_protocol::MAX_FRAME_LEN];
    for i in 0..400u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 5 {
            0 => stream.extend((0..(x >> 8) % 40).map(|k| (x >> (k % 56)) as u8)),
            1 => stream.extend(std::iter::repeat_n(0x41, 300 + (x >> 8) as usize % 600)),
            _ => {
                let msg = proprio_protocol::DeviceMessage::Status(proprio_protocol::Status {
                    battery_percent: (i % 100) as u8,
                    battery_mv: 3000 + i as u16,
                    charging: i % 2 == 0,
                });
                let n = proprio_protocol::encode_frame(&msg, &mut buf).unwrap();
                stream.extend_from_slice(&buf[..n]);
            }
        }
    }
    let mut by_byte = proprio_protocol::Decoder::<proprio_protocol::DeviceMessage>::new();
    let per_byte: Vec<_> = stream
        .iter()
        .filter_map(|&b| by_byte.push_byte(b))
        .collect();
    let mut by_feed = proprio_protocol::Decoder::<proprio_protocol::DeviceMessage>::new();
    let mut fed = Vec::new();
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let (outcome, tail) = by_feed.feed(rest);
        fed.extend(outcome);
        rest = tail;
    }
    assert_eq!(per_byte, fed);
    assert_eq!(by_byte.stats(), by_feed.stats());
    assert!(by_feed.stats().oversize > 10 && by_feed.stats().frames_ok > 100);
}
