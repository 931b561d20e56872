//! The history database and re-scoring, printed as a table (no criterion: one run, side by
//! side; no timed assertions).
//!
//! `cargo bench --bench history -j 1` prints:
//! 1. history queries over 10,000 synthetic sessions in one database: inserting them (one
//!    transaction), the `history` query (key columns of every session), reading every result
//!    (what the plan reads), and what `progress` computes for the drill (the plan's level
//!    changes replayed over the history); then `proprio history --json` and
//!    `proprio progress --json` end to end (a process each, start-up included);
//! 2. `proprio rescore --dry-run` over 1,000 short simulated recordings with 1 worker and with
//!    2 (`--jobs`): the ratio shows whether both cores are used.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use proprio::app::db::{Db, NewSession};
use proprio::devices::DeviceFormat;
use proprio::drill::{DrillKind, EndReason, RockerHoldConfig};
use proprio::plan;
use proprio::recording::{Record, RecordingWriter};
use proprio::scoring::{DeviceClass, Progress, ScoreMode, Verdict};
use proprio::session::{DrillSetup, Session, SessionMeta, SessionReport};
use proprio::sim::{SimConfig, SimTransport};
use proprio_protocol::{encode_frame, HostMessage, MAX_FRAME_LEN};

/// A rocker-hold session header on the simulator, `duration_s` long, created at `utc`.
fn meta(seed: u64, level: u8, duration_s: f64, utc: String) -> SessionMeta {
    let sim = SimConfig::new(seed);
    let mut config = RockerHoldConfig::for_level(level, sim.board.limit_deg).expect("level exists");
    config.duration_s = duration_s;
    SessionMeta::new(
        DrillSetup::RockerHold(config),
        "sim".into(),
        DeviceFormat::Proprio,
        Some(sim),
        utc,
    )
}

/// A simulated session recorded in memory: the recording's bytes (with its result) and the
/// result.
fn session(meta: &SessionMeta) -> (Vec<u8>, SessionReport) {
    let sim = meta.sim.expect("simulated");
    let mut writer = RecordingWriter::new(Vec::new(), meta).expect("write to memory");
    let mut transport = SimTransport::new(sim);
    let mut frame = [0u8; MAX_FRAME_LEN];
    for message in [
        HostMessage::GetInfo,
        HostMessage::Start {
            rate_hz: sim.rate_hz,
        },
    ] {
        let n = encode_frame(&message, &mut frame).expect("fits");
        transport.send(&frame[..n]);
    }
    let mut session = Session::new(meta.clone());
    let mut events = Vec::new();
    while !session.is_done() {
        for d in transport.next_deliveries(None) {
            let record = Record::Received {
                t_host_us: d.t_host_us,
                bytes: d.bytes,
            };
            session.handle(&record, &mut events);
            events.clear();
            writer.write(&record).expect("write to memory");
        }
    }
    let report = session.finish();
    let json = serde_json::to_string(&report).expect("a result formats");
    writer
        .write(&Record::Result(json))
        .expect("write to memory");
    (std::mem::take(writer.get_mut()), report)
}

/// `utc` of day `day` after 2024-01-01 at 09:00 (days are at most 3,650 here).
fn day_utc(day: u32) -> String {
    // Days to a date: walk the months (the benchmark's dates only need to be valid and in order).
    let mut days = day;
    let mut year = 2024;
    loop {
        let in_year = if year % 4 == 0 { 366 } else { 365 };
        if days < in_year {
            break;
        }
        days -= in_year;
        year += 1;
    }
    let lengths = [
        31,
        if year % 4 == 0 { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    format!("{year:04}-{:02}-{:02}T09:00:00Z", month + 1, days + 1)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn proprio(data_dir: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_proprio"))
        .args(args)
        .env("PROPRIO_DATA_DIR", data_dir)
        .env_remove("PROPRIO_USER")
        .env_remove("PROPRIO_CONFIG")
        .output()
        .expect("run proprio");
    let took = ms(started);
    assert!(
        out.status.success(),
        "proprio {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn queries() {
    const SESSIONS: u32 = 10_000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let template_meta = meta(1, 1, 20.0, day_utc(0));
    let (_, template) = session(&template_meta);
    // 10,000 sessions, three a day over about nine years: each at the level the plan gives
    // after the ones before (the plan's own rules), the first three at a level its baseline,
    // then good sessions (85 with a real change), a pain stop every 40th: the plan climbs and
    // steps back throughout.
    let mut metas = Vec::new();
    let mut reports: Vec<SessionReport> = Vec::new();
    let mut at_level = [0u32; 6];
    let started = Instant::now();
    for i in 0..SESSIONS {
        let level = plan::plan_on(DrillKind::RockerHold, DeviceClass::Imu, &reports).level;
        let at_level = &mut at_level[usize::from(level)];
        let mut report = template.clone();
        report.level = level;
        report.score = f64::from(i % 100);
        if i % 40 == 39 {
            report.end = EndReason::PainStop;
        }
        report.progress = (*at_level >= 3).then(|| Progress {
            score: 85.0,
            mode: ScoreMode::Progress,
            verdict: Verdict::Better,
            change_log: -0.1,
            mdc_log: 0.08,
            completion: 1.0,
            failures: 0,
            measures: Vec::new(),
        });
        *at_level += 1;
        metas.push(meta(1, level, 20.0, day_utc(i / 3)));
        reports.push(report);
    }
    let generated_s = started.elapsed().as_secs_f64();
    let paths: Vec<std::path::PathBuf> = (0..SESSIONS)
        .map(|i| dir.path().join(format!("recordings/bench-{i:05}.prec")))
        .collect();
    let new: Vec<NewSession> = (0..SESSIONS as usize)
        .map(|i| NewSession {
            user: "default",
            meta: &metas[i],
            report: Some(&reports[i]),
            note: None,
            recording: &paths[i],
        })
        .collect();
    let mut db = Db::open(dir.path(), "default").expect("open the database");
    let started = Instant::now();
    db.record_sessions(&new).expect("insert");
    let insert_ms = ms(started);
    let json_kb = serde_json::to_string(&template).expect("formats").len() as f64 / 1024.0;

    println!(
        "History queries over {SESSIONS} sessions (one rocker-hold result is {json_kb:.1} KiB \
         of JSON; generated in {generated_s:.1} s)"
    );
    println!("| step | ms |");
    println!("|---|---:|");
    println!(
        "| insert {SESSIONS} sessions (one transaction, plan levels derived) | {insert_ms:.0} |"
    );
    let started = Instant::now();
    let entries = db.history("default", None).expect("history");
    println!(
        "| `history` query: {} rows with their key columns | {:.1} |",
        entries.len(),
        ms(started)
    );
    let started = Instant::now();
    let entries = db
        .history("default", Some(DrillKind::RockerHold))
        .expect("history");
    let reports = proprio::app::db::reports(&entries).expect("results");
    println!(
        "| every result parsed (what the plan reads) | {:.1} |",
        ms(started)
    );
    let started = Instant::now();
    let changes = plan::level_changes(DrillKind::RockerHold, DeviceClass::Imu, &reports);
    let p = plan::plan_on(DrillKind::RockerHold, DeviceClass::Imu, &reports);
    println!(
        "| `progress` for the drill: {} level changes replayed, plan at level {} | {:.1} |",
        changes.len(),
        p.level,
        ms(started)
    );
    drop(db);
    let history_ms = proprio(dir.path(), &["history", "--json"]);
    let progress_ms = proprio(dir.path(), &["progress", "--json"]);
    let plan_ms = proprio(dir.path(), &["plan", "--json"]);
    println!("| `proprio history --json` (process, start-up included) | {history_ms:.0} |");
    println!("| `proprio progress --json` (process) | {progress_ms:.0} |");
    println!("| `proprio plan --json` (process) | {plan_ms:.0} |");
    println!();
}

fn rescoring() {
    const RECORDINGS: u64 = 1_000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let recordings = dir.path().join("recordings");
    std::fs::create_dir_all(&recordings).expect("a recordings directory");
    let started = Instant::now();
    for seed in 0..RECORDINGS {
        let m = meta(seed + 1, 1, 5.0, day_utc(seed as u32));
        let (bytes, _) = session(&m);
        std::fs::write(recordings.join(format!("rescore-{seed:04}.prec")), bytes)
            .expect("write a recording");
    }
    let made_s = started.elapsed().as_secs_f64();
    // The first open indexes them.
    let index_ms = proprio(dir.path(), &["history"]);
    let one = proprio(dir.path(), &["rescore", "--dry-run", "--jobs", "1"]);
    let two = proprio(dir.path(), &["rescore", "--dry-run", "--jobs", "2"]);
    println!("Re-scoring {RECORDINGS} short recordings (5 s rocker holds, 100 Hz; made in {made_s:.1} s)");
    println!("| run | ms |");
    println!("|---|---:|");
    println!("| first open: index {RECORDINGS} recordings | {index_ms:.0} |");
    println!("| `proprio rescore --dry-run --jobs 1` | {one:.0} |");
    println!("| `proprio rescore --dry-run --jobs 2` | {two:.0} |");
    println!("| speed-up, 2 workers over 1 | {:.2}× |", one / two);
    println!(
        "(cores available: {})",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn main() {
    queries();
    rescoring();
}
