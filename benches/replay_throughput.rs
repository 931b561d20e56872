//! Replay throughput and memory, printed as a table (no criterion: one run, side by side).
//!
//! `cargo bench --bench replay_throughput` prints:
//! 1. replay throughput: read → decode → pipeline → drill over an in-memory recording of a
//!    1-hour 200 Hz simulated session (samples per second, the time the whole hour takes);
//! 2. the live path per sample, with the same hour cut as a serial port (10 ms reads) and as
//!    BLE (20-byte notifications) deliver it, and an hour recorded with 8-sample batches in
//!    244-byte notifications (the wearable's BLE stream): what the link adds before the pipeline
//!    (recording each delivery, decoding) next to the pipeline and drill themselves;
//! 3. peak RSS of `proprio drill … --source sim --no-live` runs of 15 minutes, 1 hour and
//!    4 hours at 200 Hz (each its own process, Linux): constant memory means the same peak.

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
    // A little longer than the drill: it starts once the person has stepped on (3 s) and
    // brought the board level.
    while (transport.now_us() as f64) < (duration_s + 10.0) * 1e6 {
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

/// The device's byte stream in the recording, cut as a link delivers it: `chunk` bytes per
/// delivery (20 for BLE notifications at the default MTU), or as recorded (`None`: one serial
/// read per 10 ms).
fn deliveries(recording: &[u8], chunk: Option<usize>) -> Vec<Record> {
    let mut reader = RecordingReader::new(recording).expect("own recording");
    let mut records = Vec::new();
    let mut stream = Vec::new();
    while let Some(record) = reader.next_record().expect("own recording") {
        if let Record::Received { t_host_us, bytes } = record {
            match chunk {
                None => records.push(Record::Received { t_host_us, bytes }),
                Some(_) => stream.extend(bytes.into_iter().map(|b| (t_host_us, b))),
            }
        }
    }
    if let Some(chunk) = chunk {
        for piece in stream.chunks(chunk) {
            records.push(Record::Received {
                t_host_us: piece[0].0,
                bytes: piece.iter().map(|&(_, b)| b).collect(),
            });
        }
    }
    records
}

/// What the live loop does with each delivery before the pipeline ("link → decode"): append it
/// to the recording (in memory here) and decode it. Returns the IMU samples decoded.
fn link_to_decode(meta: &SessionMeta, records: &[Record]) -> u64 {
    let mut writer = RecordingWriter::new(Vec::with_capacity(64 << 20), meta).expect("memory");
    let mut decoder = FormatDecoder::new(&meta.format);
    let mut samples = 0;
    for record in records {
        writer.write(record).expect("write to memory");
        if let Record::Received { t_host_us, bytes } = record {
            decoder.push(bytes, *t_host_us);
            while let Some(message) = decoder.next() {
                samples += u64::from(matches!(message, Ok(DeviceMessage::Imu(_))));
            }
        }
    }
    samples
}

/// The whole session on the deliveries: decode, pipeline and drill (no recording).
fn session(meta: &SessionMeta, records: &[Record]) -> u64 {
    let mut session = Session::new(meta.clone());
    let mut events = Vec::new();
    for record in records {
        session.handle(record, &mut events);
        events.clear();
    }
    session.finish().quality.samples_received
}

/// Best time of `runs` calls, seconds.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs a simulated drill of `duration_s` in its own process; returns its peak RSS (KiB) and the
/// wall time. The peak is the child's own `VmHWM`, polled from /proc until it exits (Linux):
/// `getrusage(RUSAGE_CHILDREN)` would also count the pages the child shared with this large
/// process between fork and exec.
fn peak_rss_kib_of_drill(duration_s: u32, data_dir: &std::path::Path) -> Option<(u64, f64)> {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_proprio"))
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
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = None;
    loop {
        // VmHWM only grows; the last reading before exit is the peak (to within 2 ms of work).
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kib = hwm.or(peak_kib);
        }
        if let Some(status) = child.try_wait().ok()? {
            return (status.success() && peak_kib.is_some()).then(|| {
                (
                    peak_kib.unwrap_or_default(),
                    started.elapsed().as_secs_f64(),
                )
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn main() {
    let mut sim = SimConfig::new(1);
    sim.rate_hz = 200;
    let hour = record(sim, 3600.0);
    let reader = RecordingReader::new(&hour[..]).expect("own recording");
    let meta = reader.meta().clone();
    let mut samples = 0;
    let best_replay = best_of(3, || samples = replay(&hour));
    println!(
        "replay of a 1-hour 200 Hz recording ({:.1} MB, {samples} samples), best of 3:",
        hour.len() as f64 / 1e6
    );
    println!("| what | value |");
    println!("|---|---|");
    println!("| time for the hour | {best_replay:.3} s |");
    println!(
        "| throughput | {:.2} M samples/s |",
        samples as f64 / best_replay / 1e6
    );
    println!(
        "| per sample | {:.0} ns |",
        best_replay / samples as f64 * 1e9
    );

    println!();
    println!("the live path per sample, best of 3 (the same hour, cut as each link delivers it):");
    println!("| link | deliveries | link → decode | of which decoding | pipeline + drill | link → decode ÷ pipeline + drill | link → decode at 200 Hz, share of one core |");
    println!("|---|---|---|---|---|---|---|");
    let mut batched_sim = sim;
    batched_sim.batch = 8;
    let batched_hour = record(batched_sim, 3600.0);
    for (label, recording, chunk) in [
        ("serial (10 ms reads, 1 sample per frame)", &hour, None),
        (
            "BLE, 20-byte notifications, 1 sample per frame",
            &hour,
            Some(20),
        ),
        (
            "BLE, 244-byte notifications, 8 samples per frame",
            &batched_hour,
            Some(244),
        ),
    ] {
        let records = deliveries(recording, chunk);
        let samples = replay(recording);
        let link = best_of(3, || link_to_decode(&meta, &records));
        let whole = best_of(3, || session(&meta, &records));
        let decode_only = best_of(3, || {
            // Decoding alone, to take it out of the session's time.
            let mut decoder = FormatDecoder::new(&meta.format);
            for record in &records {
                if let Record::Received { t_host_us, bytes } = record {
                    decoder.push(bytes, *t_host_us);
                    while decoder.next().is_some() {}
                }
            }
        });
        let per_sample = |t: f64| t / samples as f64 * 1e9;
        let pipeline = (whole - decode_only).max(f64::MIN_POSITIVE);
        println!(
            "| {label} | {} | {:.0} ns | {:.0} ns | {:.0} ns | {:.2} | {:.4} % |",
            records.len(),
            per_sample(link),
            per_sample(decode_only),
            per_sample(pipeline),
            link / pipeline,
            per_sample(link) * 1e-9 * 200.0 * 100.0
        );
    }

    let dir = std::env::temp_dir().join(format!("proprio-bench-{}", std::process::id()));
    println!();
    println!("peak RSS of `proprio drill rocker-hold --source sim --rate 200 --no-live` (separate processes):");
    println!("| simulated duration | wall time | peak RSS |");
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
