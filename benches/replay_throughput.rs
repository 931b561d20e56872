//! Replay throughput and memory, printed as a table (no criterion: one run, side by side).
//!
//! `cargo bench --bench replay_throughput` prints:
//! 1. decode → pipeline → drill throughput, replaying an in-memory recording of a 1-hour 200 Hz
//!    simulated session (samples per second and the time the whole hour takes), and the share
//!    of it spent reading the recording and decoding frames;
//! 2. peak RSS of `proprio drill … --source sim --no-live` runs of 15 minutes, 1 hour and
//!    4 hours at 200 Hz (each its own process): constant memory means the same peak.

use std::process::Command;
use std::time::Instant;

use proprio::devices::DeviceFormat;
use proprio::devices::FormatDecoder;
use proprio::drill::RockerHoldConfig;
use proprio::recording::{Record, RecordingReader, RecordingWriter};
use proprio::session::{DrillSetup, Session, SessionMeta};
use proprio::sim::{SimConfig, SimTransport};
use proprio_protocol::{encode_frame, DeviceMessage, HostMessage, MAX_FRAME_LEN};

fn meta(sim: SimConfig, duration_s: f64) -> SessionMeta {
    let mut config = RockerHoldConfig::for_level(2, sim.board.limit_deg).expect("level 2 exists");
    config.duration_s = duration_s;
    SessionMeta::new(
        DrillSetup::RockerHold(config),
        "sim".into(),
        DeviceFormat::Proprio,
        Some(sim),
        "2026-11-21T00:00:00Z".into(),
    )
}

/// A recording of `duration_s` of simulated session, in memory.
fn record(sim: SimConfig, duration_s: f64) -> Vec<u8> {
    let meta = meta(sim, duration_s);
    let mut writer = RecordingWriter::new(Vec::new(), &meta).expect("write to memory");
    let mut transport = SimTransport::new(sim);
    let mut frame = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(
        &HostMessage::Start {
            rate_hz: sim.rate_hz,
        },
        &mut frame,
    )
    .expect("fits");
    transport.send(&frame[..n]);
    // A little longer than the drill: the drill starts once the filter has settled.
    while (transport.now_us() as f64) < (duration_s + 2.0) * 1e6 {
        for d in transport.next_deliveries(None) {
            let record = Record::Received {
                t_host_us: d.t_host_us,
                bytes: d.bytes,
            };
            writer.write(&record).expect("write to memory");
        }
    }
    std::mem::take(writer.get_mut())
}

fn replay(bytes: &[u8]) -> u64 {
    let mut reader = RecordingReader::new(bytes).expect("own recording");
    let mut session = Session::new(reader.meta().clone());
    let mut events = Vec::new();
    while let Some(record) = reader.next_record().expect("own recording") {
        session.handle(&record, &mut events);
        events.clear();
    }
    session.finish().quality.samples_received
}

/// Reading the recording and decoding frames only (the link → decode path), no pipeline.
fn decode_only(bytes: &[u8]) -> u64 {
    let mut reader = RecordingReader::new(bytes).expect("own recording");
    let mut decoder = FormatDecoder::new(&reader.meta().format);
    let mut samples = 0;
    while let Some(record) = reader.next_record().expect("own recording") {
        if let Record::Received { t_host_us, bytes } = record {
            decoder.push(&bytes, t_host_us);
            while let Some(message) = decoder.next() {
                samples += u64::from(matches!(message, Ok(DeviceMessage::Imu(_))));
            }
        }
    }
    samples
}

fn peak_rss_kib_of_drill(duration_s: u32, data_dir: &std::path::Path) -> Option<(u64, f64)> {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_proprio"))
        .args([
            "drill",
            "rocker-hold",
            "--source",
            "sim",
            "--rate",
            "200",
            "--no-live",
            "--json",
        ])
        .args(["--duration", &duration_s.to_string()])
        .env("PROPRIO_DATA_DIR", data_dir)
        .output()
        .ok()?;
    let elapsed = started.elapsed().as_secs_f64();
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    // The peak RSS of all children waited for so far (runs go shortest first).
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) } == 0;
    // SAFETY: zero-initialised and, on success, filled by getrusage.
    ok.then(|| (unsafe { usage.assume_init() }.ru_maxrss as u64, elapsed))
}

fn main() {
    let mut sim = SimConfig::new(1);
    sim.rate_hz = 200;
    let hour = record(sim, 3600.0);
    let mut best = f64::INFINITY;
    let mut best_decode = f64::INFINITY;
    let mut samples = 0;
    for _ in 0..3 {
        let started = Instant::now();
        samples = replay(&hour);
        best = best.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        std::hint::black_box(decode_only(&hour));
        best_decode = best_decode.min(started.elapsed().as_secs_f64());
    }
    println!(
        "replay of a 1-hour 200 Hz recording ({:.1} MB, {samples} samples), best of 3:",
        hour.len() as f64 / 1e6
    );
    println!("| what | value |");
    println!("|---|---|");
    println!("| time for the hour | {best:.3} s |");
    println!(
        "| throughput | {:.2} M samples/s |",
        samples as f64 / best / 1e6
    );
    println!("| per sample | {:.0} ns |", best / samples as f64 * 1e9);
    println!(
        "| of which reading + decoding (link → decode) | {:.0} ns ({:.0} %) |",
        best_decode / samples as f64 * 1e9,
        100.0 * best_decode / best
    );

    let dir = std::env::temp_dir().join(format!("proprio-bench-{}", std::process::id()));
    println!();
    println!("peak RSS of `proprio drill rocker-hold --source sim --rate 200 --no-live` (separate processes):");
    println!("| simulated duration | wall time | peak RSS so far |");
    println!("|---|---|---|");
    for (label, seconds) in [("15 min", 900), ("1 h", 3600), ("4 h", 14_400)] {
        match peak_rss_kib_of_drill(seconds, &dir) {
            Some((kib, wall)) => {
                println!("| {label} | {wall:.1} s | {:.1} MiB |", kib as f64 / 1024.0)
            }
            None => println!("| {label} | failed | |"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
