//! Running a drill live, and replaying a recording, through the same [`Session`].

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use proprio_protocol::HostMessage;

use super::link::{Link, LinkEvent, Source};
use super::output;
use super::store::{self, RecordingFile};
use super::view::{Key, LiveView};
use super::{DrillArgs, EXIT_INCOMPLETE};
use crate::drill::{DrillKind, RockerHoldConfig};
use crate::recording::{Control, LinkEventKind, Record, RecordingError, RecordingReader};
use crate::session::{DrillSetup, Session, SessionMeta, SessionReport};

/// Host time between `GetInfo` requests while the device has not introduced itself, µs.
const INFO_RETRY_US: u64 = 1_000_000;
/// Requests before giving up on a device that never introduces itself.
const INFO_TRIES: u32 = 5;
/// Live view refresh interval.
const REDRAW: Duration = Duration::from_millis(50);

/// `proprio drill …` (and `proprio demo`).
pub fn drill(data_dir: Option<PathBuf>, args: &DrillArgs) -> Result<ExitCode> {
    let source = Source::parse(&args.source)?;
    // Each drill builds its setup here; the rocker hold is the only one so far.
    let DrillKind::RockerHold = DrillKind::from(args.drill);
    let mut config = RockerHoldConfig::for_level(args.level, args.board_limit)
        .with_context(|| format!("level {} does not exist", args.level))?;
    if let Some(duration_s) = args.duration {
        config.duration_s = duration_s;
    }
    let sim = args.sim.config(args.board_limit);
    let (created_utc, stamp) = store::utc_now();
    let meta = SessionMeta::new(
        DrillSetup::RockerHold(config),
        args.source.clone(),
        (source == Source::Sim).then_some(sim),
        created_utc,
    );
    let live = !args.no_live && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let data_dir = store::data_dir(data_dir)?;
    let mut link = Link::open(&source, sim, live)?;
    let mut recording = RecordingFile::create(&data_dir, &stamp, &meta)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(run_live(
        &mut link,
        &mut recording,
        meta,
        live,
        args.sim.rate,
    ));
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            // Keep what was recorded; say where it is.
            let path = recording.close()?;
            anyhow::bail!("{error:#} (what arrived is kept in {})", path.display());
        }
    };
    // The file keeps the result without its own path (so the same seed gives the same bytes).
    let stored = serde_json::to_string(&report).context("cannot format the result")?;
    recording.append(&Record::Result(stored))?;
    let mut report = report;
    report.recording = Some(recording.close()?.display().to_string());
    let json = serde_json::to_string(&report).context("cannot format the result")?;
    if args.json {
        println!("{json}");
    } else {
        output::print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_live(
    link: &mut Link,
    recording: &mut RecordingFile,
    meta: SessionMeta,
    live: bool,
    rate_hz: u16,
) -> Result<SessionReport> {
    let mut session = Session::new(meta);
    let mut events = Vec::new();
    let send = |link: &mut Link, recording: &mut RecordingFile, message: HostMessage| {
        let (t_host_us, bytes) = link.send(&message)?;
        recording.append(&Record::Sent { t_host_us, bytes })
    };
    send(link, recording, HostMessage::GetInfo)?;
    send(link, recording, HostMessage::Start { rate_hz })?;
    let mut info_requests = 1;
    let mut last_info_request_us = link.now_us();

    let mut view = if live {
        Some(LiveView::start(link.describe())?)
    } else {
        None
    };
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    let mut tick = tokio::time::interval(REDRAW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    while !session.is_done() {
        tokio::select! {
            event = link.next() => match event {
                LinkEvent::Bytes { t_host_us, bytes } => {
                    let record = Record::Received { t_host_us, bytes };
                    recording.append(&record)?;
                    session.handle(&record, &mut events);
                }
                LinkEvent::Disconnected { t_host_us, reason } => {
                    let record = Record::Link {
                        t_host_us,
                        event: LinkEventKind::Disconnected,
                        detail: reason.clone(),
                    };
                    recording.append(&record)?;
                    session.handle(&record, &mut events);
                    session.link_lost(&mut events);
                    if let Some(view) = view.as_mut() {
                        view.note(&format!("link lost: {reason}"));
                    }
                }
            },
            _ = &mut ctrl_c => {
                let record = Record::Control { t_host_us: link.now_us(), control: Control::UserStop };
                recording.append(&record)?;
                session.handle(&record, &mut events);
            }
            _ = tick.tick() => {
                recording.flush_if_due()?;
                if let Some(view) = view.as_mut() {
                    for key in view.keys() {
                        let control = match key {
                            Key::Stop => Control::UserStop,
                            Key::Pain => Control::PainStop,
                        };
                        let record = Record::Control { t_host_us: link.now_us(), control };
                        recording.append(&record)?;
                        session.handle(&record, &mut events);
                    }
                    view.draw(&session.live(), &events)?;
                }
                events.clear();
            }
        }
        if !live {
            events.clear();
        }
        if !session.has_device_info()
            && link.now_us().saturating_sub(last_info_request_us) > INFO_RETRY_US
        {
            if info_requests >= INFO_TRIES {
                bail!("the device did not identify itself (no Hello after {INFO_TRIES} requests); is it running proprio's firmware?");
            }
            send(link, recording, HostMessage::GetInfo)?;
            info_requests += 1;
            last_info_request_us = link.now_us();
        }
    }
    if let Some(view) = view.take() {
        view.finish(&session.live())?;
    }
    // Best effort: the device may already be gone.
    let _ = send(link, recording, HostMessage::Stop);
    Ok(session.finish())
}

/// `proprio replay FILE`.
pub fn replay(path: &Path, json: bool) -> Result<ExitCode> {
    let file =
        File::open(path).with_context(|| format!("cannot open recording {}", path.display()))?;
    let mut reader = RecordingReader::new(BufReader::new(file))
        .with_context(|| format!("cannot replay {}", path.display()))?;
    let mut session = Session::new(reader.meta().clone());
    let mut events = Vec::new();
    let mut cut_off = None;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                session.handle(&record, &mut events);
                events.clear();
            }
            Ok(None) => break,
            Err(error @ RecordingError::Truncated { .. }) => {
                cut_off = Some(error);
                break;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot replay {}", path.display()))
            }
        }
    }
    let mut report = session.finish();
    report.recording = Some(path.display().to_string());
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).context("cannot format the result")?
        );
    } else {
        output::print_report(&report);
    }
    match cut_off {
        Some(error) => {
            eprintln!("proprio: {error}; the result covers the complete records before it");
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
