//! Human-readable output.

use crate::drill::{DrillKind, EndReason, ROCKER_LEVELS};
use crate::session::SessionReport;

/// `proprio drills`.
pub fn print_drills() {
    for drill in DrillKind::ALL {
        println!("{}", drill.name());
        println!("  {}", drill.summary());
        println!("  Why: {}", drill.purpose());
        println!("  Safety: {}", drill.safety());
        println!("  Sensor: {}", drill.sensor());
        println!("  Levels:");
        for (i, level) in ROCKER_LEVELS.iter().enumerate() {
            println!(
                "    {}: keep within ±{:.0}° for {:.0} s, {}",
                i + 1,
                level.band_deg,
                level.duration_s,
                level.note
            );
        }
        println!();
    }
    println!(
        "proprio is a training aid, not a diagnosis. Check with your clinician before starting."
    );
}

fn end_words(end: EndReason) -> &'static str {
    match end {
        EndReason::Completed => "completed",
        EndReason::UserStop => "stopped by you",
        EndReason::PainStop => {
            "stopped because it hurt (recorded; rest, and do not push through pain)"
        }
        EndReason::LinkLost => "ended: the device link was lost",
        EndReason::DataEnded => "ended: the data stopped before the drill was over",
    }
}

/// The result of a drill, for people.
pub fn print_report(report: &SessionReport) {
    let m = &report.metrics;
    let q = &report.quality;
    // The drill's clock pauses without data, so the time measured can be less than elapsed.
    let paused_s = report.duration_s - m.measured_s;
    let pauses = if paused_s > 0.05 {
        format!(", paused {paused_s:.1} s without data")
    } else {
        String::new()
    };
    println!(
        "{} level {}: score {:.0} / 100 ({}, {:.1} of {:.0} s measured{pauses})",
        report.drill.name(),
        report.level,
        report.score,
        end_words(report.end),
        m.measured_s,
        report.target_duration_s
    );
    let stabilised = m
        .time_to_stabilise_s
        .map_or("never stabilised for 2 s".to_string(), |t| {
            format!("stable after {t:.1} s")
        });
    println!(
        "  tilt RMS {:.1}°, in band {:.0} %, edge contacts {}, longest in band {:.1} s, {}",
        m.tilt_rms_deg, m.time_in_band_percent, m.edge_contacts, m.longest_in_band_s, stabilised
    );
    println!(
        "  data: {} samples, {} lost ({:.1} %), {} corrupted frames, longest gap {:.2} s",
        q.samples_received,
        q.frames_lost,
        q.loss_percent,
        q.crc_errors + q.malformed_frames,
        q.longest_gap_s
    );
    if let Some(path) = &report.recording {
        println!("recording: {path}");
        println!("  replay it with: proprio replay {path}");
    }
}
