//! The worked examples in README.md ("Worked example: two frames byte by byte"), derived by
//! hand: CRC from an independent bitwise CRC-16/IBM-3740, COBS done on paper.

use proprio_protocol::{encode_frame, Decoder, HostMessage, MAX_FRAME_LEN};

/// `HostMessage::Stop`: version 01 | postcard 02 | CRC 0x0E7C little-endian 7c 0e,
/// COBS: no zero inside, so one block of 4 bytes, code 05; then the delimiter.
const STOP: [u8; 6] = [0x05, 0x01, 0x02, 0x7c, 0x0e, 0x00];

/// `HostMessage::Start { rate_hz: 200 }`: version 01 | postcard 01 (variant) c8 01 (varint
/// 200) | CRC 0x4A98 little-endian 98 4a, COBS: one block of 6 bytes, code 07; delimiter.
const START_200: [u8; 8] = [0x07, 0x01, 0x01, 0xc8, 0x01, 0x98, 0x4a, 0x00];

/// `HostMessage::GetInfo`: version 01 | postcard 00 | CRC 0x2E3E little-endian 3e 2e,
/// COBS: the zero splits it into blocks `02 01` and `03 3e 2e`; delimiter.
const GET_INFO: [u8; 6] = [0x02, 0x01, 0x03, 0x3e, 0x2e, 0x00];

fn encode(msg: &HostMessage) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(msg, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn encode_frame_gives_the_hand_derived_bytes() {
    assert_eq!(encode(&HostMessage::Stop), STOP);
    assert_eq!(encode(&HostMessage::Start { rate_hz: 200 }), START_200);
    assert_eq!(encode(&HostMessage::GetInfo), GET_INFO);
}

#[test]
fn the_hand_derived_bytes_decode() {
    for (bytes, msg) in [
        (&STOP[..], HostMessage::Stop),
        (&START_200[..], HostMessage::Start { rate_hz: 200 }),
        (&GET_INFO[..], HostMessage::GetInfo),
    ] {
        let mut decoder = Decoder::<HostMessage>::new();
        assert_eq!(decoder.feed(bytes), (Some(Ok(msg)), &[][..]));
    }
}

#[test]
fn readme_shows_the_same_bytes() {
    let readme = include_str!("../README.md");
    for bytes in [&STOP[..], &START_200[..], &GET_INFO[..]] {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let hex = hex.join(" ");
        assert!(
            readme.contains(&hex),
            "README.md should show the frame `{hex}`"
        );
    }
}
