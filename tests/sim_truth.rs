//! The simulator's ground truth recovered by the pipeline and the drill.

use std::collections::HashMap;

use proprio::decode::{SampleClock, StreamDecoder};
use proprio::pipeline::{Pipeline, PipelineConfig};
use proprio::quality::DataQuality;
use proprio::sim::{SampleTruth, SimConfig, SimTransport};
use proprio_protocol::{encode_frame, DeviceMessage, HostMessage, MAX_FRAME_LEN};

fn start(transport: &mut SimTransport, rate_hz: u16) {
    let mut frame = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(&HostMessage::Start { rate_hz }, &mut frame).unwrap();
    transport.send(&frame[..n]);
}

/// Runs `seconds` of simulation; returns (truth by seq, estimated tilt by seq).
fn run(config: SimConfig, seconds: f64) -> (HashMap<u32, SampleTruth>, Vec<(u32, u64, f64)>) {
    let mut transport = SimTransport::new(config);
    start(&mut transport, config.rate_hz);
    let mut decoder = StreamDecoder::new();
    let mut clock = SampleClock::new();
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let mut quality = DataQuality::default();
    let mut truth = Vec::new();
    let mut estimates = Vec::new();
    while (transport.now_us() as f64) < seconds * 1e6 {
        for delivery in transport.next_deliveries(Some(&mut truth)) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                match outcome {
                    Ok(DeviceMessage::Hello(info)) => pipeline.set_device_info(info),
                    Ok(DeviceMessage::Imu(s)) => {
                        if let Some(timed) = clock.observe(s.seq, s.t_us, &mut quality) {
                            if let Some(tilt) = pipeline.push(&s, timed.t_us, timed.dt_us) {
                                estimates.push((s.seq, tilt.t_us, tilt.tilt_deg));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (truth.into_iter().map(|t| (t.seq, t)).collect(), estimates)
}

#[test]
fn pipeline_recovers_the_true_board_tilt() {
    for seed in [1, 2, 3] {
        for skill in [0.3, 0.8] {
            let mut config = SimConfig::new(seed);
            config.skill = skill;
            let (truth, estimates) = run(config, 60.0);
            let settled: Vec<f64> = estimates
                .iter()
                .filter(|(_, t_us, _)| *t_us > 2_000_000)
                .map(|(seq, _, tilt)| tilt - truth[seq].tilt_deg)
                .collect();
            let rms = (settled.iter().map(|e| e * e).sum::<f64>() / settled.len() as f64).sqrt();
            let max = settled.iter().fold(0.0f64, |m, e| m.max(e.abs()));
            eprintln!("seed {seed} skill {skill}: tilt error RMS {rms:.3}°, max {max:.3}°");
            assert!(rms < 0.5, "seed {seed} skill {skill}: RMS error {rms}°");
        }
    }
}
