//! The simulator's ground truth recovered by decode → pipeline.

use std::collections::HashMap;

use proprio::decode::{SampleClock, StreamDecoder};
use proprio::pipeline::{Pipeline, PipelineConfig};
use proprio::quality::DataQuality;
use proprio::sim::{SampleTruth, SimConfig, SimTransport};
use proprio_protocol::{DeviceMessage, HostMessage};

use crate::common::send;

/// What a run gives: the truth by seq, (seq, t_us, tilt) estimates and the quality record.
pub type Run = (HashMap<u32, SampleTruth>, Vec<(u32, u64, f64)>, DataQuality);

/// Runs `seconds` of simulation.
fn run(config: SimConfig, seconds: f64) -> Run {
    run_with(config, PipelineConfig::default(), seconds)
}

/// Runs `seconds` of simulation through a pipeline set up as `pipeline_config`.
pub fn run_with(config: SimConfig, pipeline_config: PipelineConfig, seconds: f64) -> Run {
    let mut transport = SimTransport::new(config);
    send(
        &mut transport,
        HostMessage::Start {
            rate_hz: config.rate_hz,
        },
    );
    let mut decoder = StreamDecoder::new();
    let mut clock = SampleClock::new();
    let mut pipeline = Pipeline::new(pipeline_config);
    let mut quality = DataQuality::default();
    let mut truth = Vec::new();
    let mut estimates = Vec::new();
    let mut on_sample =
        |s: &proprio_protocol::ImuSample, pipeline: &mut Pipeline, quality: &mut DataQuality| {
            if let Some(timed) = clock.observe(s.seq, s.t_us, quality) {
                if let Some(tilt) = pipeline.push(s, timed.t_us, timed.dt_us) {
                    estimates.push((s.seq, tilt.t_us, tilt.tilt_deg));
                }
            }
        };
    while (transport.now_us() as f64) < seconds * 1e6 {
        for delivery in transport.next_deliveries(Some(&mut truth)) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                match outcome {
                    Ok(DeviceMessage::Hello(info)) => pipeline.set_device_info(info),
                    Ok(DeviceMessage::Imu(s)) => on_sample(&s, &mut pipeline, &mut quality),
                    Ok(DeviceMessage::ImuBatch(b)) => {
                        for s in &b.samples {
                            on_sample(s, &mut pipeline, &mut quality)
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (
        truth.into_iter().map(|t| (t.seq, t)).collect(),
        estimates,
        quality,
    )
}

/// RMS and max of estimate − truth after the first 2 s (the filter's settling).
fn tilt_error(config: SimConfig, seconds: f64) -> (f64, f64, usize) {
    tilt_error_with(config, PipelineConfig::default(), seconds)
}

/// [`tilt_error`] through a pipeline set up as `pipeline_config` (e.g. calibrated).
pub fn tilt_error_with(
    config: SimConfig,
    pipeline_config: PipelineConfig,
    seconds: f64,
) -> (f64, f64, usize) {
    let (truth, estimates, _) = run_with(config, pipeline_config, seconds);
    let errors: Vec<f64> = estimates
        .iter()
        .filter(|(_, t_us, _)| *t_us > 2_000_000)
        .map(|(seq, _, tilt)| tilt - truth[seq].tilt_deg)
        .collect();
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let max = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    (rms, max, errors.len())
}

#[test]
fn pipeline_recovers_the_true_board_tilt() {
    for seed in [1, 2, 3] {
        for skill in [0.3, 0.8] {
            let mut config = SimConfig::new(seed);
            config.skill = skill;
            let (rms, max, n) = tilt_error(config, 60.0);
            eprintln!("seed {seed} skill {skill}: tilt error RMS {rms:.3}°, max {max:.3}° over {n} samples");
            assert!(n > 5_500, "too few samples: {n}");
            assert!(rms < 0.3, "seed {seed} skill {skill}: RMS error {rms}°");
            assert!(max < 1.5, "seed {seed} skill {skill}: max error {max}°");
        }
    }
}

#[test]
fn tilt_is_recovered_across_the_device_clock_wrap_in_batches_at_200_hz() {
    let mut config = SimConfig::new(11);
    config.rate_hz = 200;
    config.batch = 8;
    config.device_clock_start_us = Some(u32::MAX - 20_000_000); // wraps 20 s in
    let (rms, _, n) = tilt_error(config, 60.0);
    assert!(n > 11_000, "samples lost across the wrap: {n}");
    assert!(rms < 0.3, "RMS error {rms}° across the wrap");
}

#[test]
fn lost_frames_are_counted_exactly_from_sequence_numbers() {
    let mut config = SimConfig::new(5);
    config.faults.drop_prob = 0.02;
    let (truth, estimates, quality) = run(config, 30.0);
    // Truth for every sample up to the last one that arrived.
    let last_seq = estimates.last().unwrap().0;
    let lost = truth
        .values()
        .filter(|t| t.lost && t.seq < last_seq)
        .count() as u64;
    assert!(
        lost > 30,
        "the fault injection should drop about 2 %: {lost}"
    );
    assert_eq!(quality.frames_lost, lost);
    assert_eq!(
        estimates.len() as u64 + quality.frames_lost,
        u64::from(last_seq) + 1
    );
}
