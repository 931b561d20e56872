//! Shared helpers: run a whole session in process on the simulator, as the app does.

use proprio::devices::DeviceFormat;
use proprio::drill::RockerHoldConfig;
use proprio::recording::Record;
use proprio::session::{DrillSetup, Session, SessionMeta, SessionReport};
use proprio::sim::{SampleTruth, SimConfig, SimTransport};
use proprio_protocol::{encode_frame, HostMessage, MAX_FRAME_LEN};

/// A data set in ../shared/data (next to the repository), or a clear failure naming what is
/// missing; `marker` is a file the set must hold.
pub fn shared_data(set: &str, marker: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(set);
    assert!(
        dir.join(marker).is_file(),
        "{set} data missing: expected {} (the shared data directory next to the repository)",
        dir.join(marker).display()
    );
    dir
}

/// Sends one host command to the simulated device.
pub fn send(transport: &mut SimTransport, message: HostMessage) {
    let mut frame = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(&message, &mut frame).unwrap();
    transport.send(&frame[..n]);
}

/// A rocker-hold session header for the simulator.
pub fn meta(sim: SimConfig, level: u8, duration_s: f64) -> SessionMeta {
    let mut config = RockerHoldConfig::for_level(level, sim.board.limit_deg).unwrap();
    config.duration_s = duration_s;
    sim_meta(sim, DrillSetup::RockerHold(config))
}

/// A session header for `setup` on the simulator speaking proprio's protocol.
pub fn sim_meta(sim: SimConfig, setup: DrillSetup) -> SessionMeta {
    SessionMeta::new(
        setup,
        "sim".into(),
        DeviceFormat::Proprio,
        Some(sim),
        "2026-11-21T00:00:00Z".into(),
    )
}

/// Runs a drill on the simulator; returns the report, the records fed and the truth.
pub fn run_sim(
    sim: SimConfig,
    level: u8,
    duration_s: f64,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    run_session(
        &mut streaming(sim),
        Session::new(meta(sim, level, duration_s)),
    )
}

/// The simulated device, asked for its info and streaming at its configured rate, as the app
/// starts it.
pub fn streaming(sim: SimConfig) -> SimTransport {
    let mut transport = SimTransport::new(sim);
    send(&mut transport, HostMessage::GetInfo);
    send(
        &mut transport,
        HostMessage::Start {
            rate_hz: sim.rate_hz,
        },
    );
    transport
}

/// Feeds what the simulated link delivers to `session` until its drill ends (within an hour
/// of simulated time); returns the report, the records fed and the truth.
pub fn run_session(
    transport: &mut SimTransport,
    mut session: Session,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    let (mut records, mut truth, mut events) = (Vec::new(), Vec::new(), Vec::new());
    while !session.is_done() {
        for d in transport.next_deliveries(Some(&mut truth)) {
            let record = Record::Received {
                t_host_us: d.t_host_us,
                bytes: d.bytes,
            };
            session.handle(&record, &mut events);
            records.push(record);
        }
        assert!(
            transport.now_us() < 3_600 * 1_000_000,
            "session never ended"
        );
    }
    (session.finish(), records, truth)
}
