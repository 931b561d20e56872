mod common;
use common::*;
use proprio_protocol::*;

#[test]
#[ignore]
fn flip_rate() {
    let (mut flips, mut bad_msgs, mut lost_untouched) = (0u64, 0u64, 0u64);
    for seed in 0..3000u64 {
        let msgs = mixed_messages(4, seed);
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for m in &msgs { bytes.extend(frame(m)); ends.push(bytes.len() - 1); }
        let sent: Vec<Vec<u8>> = msgs.iter().map(|m| frame(m)).collect();
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut c = bytes.clone();
                c[at] ^= 1 << bit;
                flips += 1;
                let (outs, _) = decode_all::<DeviceMessage>(&c);
                let got: Vec<Vec<u8>> = messages(outs).iter().map(|m| frame(m)).collect();
                for g in &got { if !sent.contains(g) { bad_msgs += 1; } }
                let hit = ends.iter().position(|&e| at <= e).unwrap();
                let expect_min = msgs.len() - if at == ends[hit] && hit + 1 < msgs.len() { 2 } else { 1 };
                if got.len() < expect_min { lost_untouched += 1; }
            }
        }
    }
    println!("flips {flips} bad {bad_msgs} lost {lost_untouched}");
}
