//! The simulated sensor: a seeded virtual person on a virtual device that speaks
//! firmware-protocol, so `--source sim` exercises every layer above the radio.
//!
//! # Brief overview
//! - [`VirtualDevice`]: the device. Give it host command bytes ([`VirtualDevice::receive`]),
//!   advance its clock ([`VirtualDevice::advance_to`]) and it appends protocol frames to a byte
//!   buffer, exactly what its firmware would put on the wire, plus the ground truth of each sample.
//! - [`SimTransport`]: the device behind a simulated serial link: bytes arrive in chunks with host
//!   receive times on a simulated host clock. Deterministic, so the same seed gives the same
//!   recording.
//! - [`SimConfig`]: seed, skill, rate, sensor errors and [`Faults`] to inject; which device
//!   the simulator is ([`SimDevice`]: an IMU on a rocker board or a wobble board
//!   ([`WobbleWorld`]), on the lower back of a person who walks, holds a neutral spine or
//!   stands still ([`StanceWorld`]), or a balance board whose person and load cells are in
//!   `balance_board`, see [`BalanceBoardSim`]; or, for the calibration routines, a wearable
//!   in a hand ([`RoutineWorld`]), a person doing the mounting routine ([`MountWorld`]) or a
//!   board with a known mass put on it ([`CalibrationMass`])); [`SimConfig::strap`] straps the
//!   wearable on crooked.
//!
//! Nothing here does I/O or reads a clock: time is whatever the caller advances it to.

mod board;
mod board_mass;
mod imu;
mod mount;
mod posture;
mod rng;
mod rocker;
mod routine;
mod shift;
mod stance;
mod walker;
mod wobble;

use nalgebra::{UnitQuaternion, Vector3};
use proprio_protocol::{
    encode_frame, Ack, AckStatus, Decoder, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion,
    HostMessage, ImuBatch, ImuSample, Status, MAX_BATCH, MAX_FRAME_LEN,
};
use serde::{Deserialize, Serialize};

pub use board::{
    BalanceBoardSim, BalanceWorld, BoardLoad, BoardTruth, LoadCellErrors, StandingPerson,
    TouchDownTruth, VirtualBoard, LATE_PROB, MISSED_PROB, TOUCH_DOWN_RAMP_S,
};
pub use board_mass::CalibrationMass;
pub use imu::{SensorErrors, SensorTruth, ACC_M_S2_PER_LSB, GYR_RAD_S_PER_LSB, MAG_UT_PER_LSB};
pub use mount::MountWorld;
pub use posture::{Drift, DriftKind, PostureScript, PostureSim, PostureWorld, SENSOR_ABOVE_HIPS_M};
pub use rng::{splitmix64, SimRng};
pub use rocker::{
    speed_margin_deg_s, BoardGeometry, BoardState, EdgeContactCounter, EdgeContacts, Person,
    RockerWorld, RELEASE_MARGIN_DEG, STEP_US,
};
pub use routine::RoutineWorld;
pub use shift::{
    ShiftAttempt, ShiftPerson, ShiftTargetTruth, MISS_MARGIN_MM, VERDICT_SLACK_MM, VERDICT_SLACK_S,
};
pub use stance::{
    sway_factors, StanceSim, StanceTruth, StanceWorld, STEP_DURATION_S, STEP_LEAN_DEG,
    STEP_LENGTH_M,
};

pub use walker::{
    MisstepKind, ScriptedStep, WalkScript, WalkSim, WalkTruth, WalkWorld, IMPACT_DELAY_S,
    LUMBAR_HEIGHT_M,
};
pub use wobble::{wobble_orientation, WobbleState, WobbleWorld};

use imu::VirtualImu;

/// Faults the virtual device or its link inject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Probability that a frame is lost.
    pub drop_prob: f64,
    /// Probability that one bit of a frame is flipped in transit.
    pub corrupt_prob: f64,
    /// Probability that a burst of random bytes appears before a frame (line noise).
    pub garbage_prob: f64,
    /// The device stops sending for a while (e.g. a full buffer or a brown-out); the samples of
    /// that time are lost.
    pub stall: Option<Stall>,
}

/// A period without any data from the device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    /// When it starts, seconds after the simulation starts.
    pub at_s: f64,
    /// How long it lasts, seconds.
    pub duration_s: f64,
}

/// Everything that makes one simulated run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Seeds every random choice: person, sensor, faults, link timing.
    pub seed: u64,
    /// The person's balance skill, 0 (beginner) to 1 (expert).
    pub skill: f64,
    /// When the person steps onto the rocker or wobble board, seconds after power-on; until
    /// then the board lies still on one of its edges (its rim). 0: on the board from the start.
    #[serde(default)]
    pub step_on_s: f64,
    /// Sample rate the device runs at until the host asks for another, Hz.
    pub rate_hz: u16,
    /// IMU samples per frame (1 = one `Imu` message each, as over serial; up to 8 in an
    /// `ImuBatch`, as over BLE).
    pub batch: u8,
    /// The board.
    pub board: BoardGeometry,
    /// The sensor's error magnitudes.
    pub sensor: SensorErrors,
    /// Injected faults.
    pub faults: Faults,
    /// Device clock at power-on, µs; `None` draws it from the seed. Set it near `u32::MAX` to
    /// see the clock wrap early.
    pub device_clock_start_us: Option<u32>,
    /// Device clock error, parts per million.
    pub clock_drift_ppm: f64,
    /// What the device speaks.
    #[serde(default)]
    pub output: SimOutput,
    /// Which device the simulator is.
    #[serde(default)]
    pub device: SimDevice,
    /// The balance board and its person, when `device` is [`SimDevice::BalanceBoard`].
    #[serde(default)]
    pub balance_board: BalanceBoardSim,
    /// The walk, when `device` is [`SimDevice::LumbarWearable`].
    #[serde(default)]
    pub walk: WalkSim,
    /// The posture hold, when `device` is [`SimDevice::PostureWearable`].
    #[serde(default)]
    pub posture: PostureSim,
    /// The quiet stance, when `device` is [`SimDevice::StanceWearable`].
    #[serde(default)]
    pub stance: StanceSim,
    /// How the wearable is strapped on, when not straight: on every wearable world but the
    /// hand-held calibration routine (on a board too). `None`: straight (x forward, z up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strap: Option<Strap>,
}

/// A wearable strapped on crooked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Strap {
    /// `body_from_imu` (on a board, `board_from_imu`): the sensor's axes in the body's (x
    /// forward, y left, z up) or the board's (x along the fulcrum, y left, z up). What the
    /// mounting calibration has to find.
    pub body_from_imu: UnitQuaternion<f64>,
}

/// Largest tilt of a crooked strap, degrees.
pub const CROOKED_STRAP_MAX_TILT_DEG: f64 = 20.0;

/// Which device the simulator is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimDevice {
    /// An IMU wearable strapped to a rocker board with a person on it.
    #[default]
    RockerWearable,
    /// A balance board with four load cells and a person standing on it.
    BalanceBoard,
    /// An IMU wearable on the lower back of a person who walks heel to toe.
    LumbarWearable,
    /// An IMU wearable on the lower back of a person holding a neutral spine, drifting into
    /// flexion now and then.
    PostureWearable,
    /// An IMU wearable strapped to the middle of a wobble board (x forward, z up) with a
    /// person on it.
    WobbleWearable,
    /// An IMU wearable on the lower back of a person standing still (quiet stance).
    StanceWearable,
    /// An IMU wearable in the hand of a person calibrating it: still, ten poses, a tumble
    /// ([`RoutineWorld`]).
    CalibrationWearable,
    /// A balance board (`balance_board`'s cells) with a known mass put on each corner in turn,
    /// then at the centre, for the board's calibration routine ([`CalibrationMass`]).
    CalibrationBoard,
    /// An IMU wearable on the lower back of a person doing the mounting routine: upright,
    /// then bent forward ([`MountWorld::back`]).
    MountWearable,
    /// An IMU wearable strapped to a rocker board that a person holds level, then tips onto
    /// its right edge: the board's mounting routine ([`MountWorld::board`]).
    MountBoard,
}

impl SimDevice {
    /// The kind of device it introduces itself as.
    pub fn kind(self) -> DeviceKind {
        match self {
            SimDevice::BalanceBoard | SimDevice::CalibrationBoard => DeviceKind::BalanceBoard,
            SimDevice::RockerWearable
            | SimDevice::LumbarWearable
            | SimDevice::PostureWearable
            | SimDevice::WobbleWearable
            | SimDevice::StanceWearable
            | SimDevice::CalibrationWearable
            | SimDevice::MountWearable
            | SimDevice::MountBoard => DeviceKind::Wearable,
        }
    }
}

/// What the virtual device speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimOutput {
    /// proprio's firmware protocol.
    #[default]
    Proprio,
    /// A WitMotion WT901C on serial: streams from power-on, ignores commands, no clock.
    WitmotionSerial,
    /// A WitMotion WT901BLECL: 20-byte packets from power-on, ignores commands, no clock.
    WitmotionBle,
    /// A DIY four-HX711 balance board printing text lines (a [`SimDevice::BalanceBoard`]
    /// only): streams from power-on, ignores commands; the layout is set with
    /// [`VirtualDevice::set_hx711_format`].
    Hx711Text,
}

impl SimOutput {
    /// A WitMotion sensor streams from power-on and has no protocol to answer.
    fn is_witmotion(self) -> bool {
        matches!(self, SimOutput::WitmotionSerial | SimOutput::WitmotionBle)
    }
}

impl SimConfig {
    /// The same run on a balance board straight off the reel: each load cell's gain a further
    /// ±3 % off ([`LoadCellErrors::uncalibrated`]).
    pub fn with_uncalibrated_board(mut self) -> Self {
        self.balance_board.cells.reel_gain_error = LoadCellErrors::uncalibrated().reel_gain_error;
        self
    }

    /// Defaults for `seed`: a moderately skilled person, 100 Hz, no faults.
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            skill: 0.6,
            step_on_s: 3.0,
            rate_hz: 100,
            batch: 1,
            board: BoardGeometry::default(),
            sensor: SensorErrors::default(),
            faults: Faults::default(),
            device_clock_start_us: None,
            clock_drift_ppm: 35.0,
            device: SimDevice::RockerWearable,
            balance_board: BalanceBoardSim::default(),
            walk: WalkSim::default(),
            posture: PostureSim::default(),
            stance: StanceSim::default(),
            output: SimOutput::Proprio,
            strap: None,
        }
    }

    /// The same run with the wearable strapped on crooked, drawn from the seed (a stream of its
    /// own): any turn about the vertical, and a tilt of up to [`CROOKED_STRAP_MAX_TILT_DEG`]
    /// about a horizontal axis in any direction (a pouch on a belt, a strap over a curved back).
    pub fn with_crooked_strap(self) -> Self {
        let mut rng = SimRng::new(self.seed, stream::STRAP);
        let turn_rad = rng.range(-180.0, 180.0).to_radians();
        let tilt_rad = rng.range(0.0, CROOKED_STRAP_MAX_TILT_DEG).to_radians();
        let azimuth_rad = rng.range(0.0, std::f64::consts::TAU);
        let tilt_axis = Vector3::new(azimuth_rad.cos(), azimuth_rad.sin(), 0.0);
        let body_from_imu = UnitQuaternion::from_scaled_axis(tilt_axis * tilt_rad)
            * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), turn_rad);
        SimConfig {
            strap: Some(Strap { body_from_imu }),
            ..self
        }
    }
}

/// The simulator's ground truth for one sample the device took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleTruth {
    /// The sample's sequence number.
    pub seq: u32,
    /// True time since the simulation started, µs.
    pub t_true_us: u64,
    /// The timestamp the device put on it.
    pub t_device_us: u32,
    /// True board tilt, degrees (a wobble board's: the tilt's size; the mounting routine's: the
    /// trunk's flexion or the board's tip, `MountWorld::bend_deg`).
    pub tilt_deg: f64,
    /// True edge contacts so far (all 0 for a balance board).
    pub edge_contacts: EdgeContacts,
    /// True if the device dropped this sample's frame (or was stalled).
    pub lost: bool,
    /// The board's truth, for a balance board (its tilt and edge contacts are then 0).
    pub board: Option<BoardTruth>,
    /// The walker's truth, for a lumbar wearable (tilt is then the trunk's roll).
    pub walk: Option<WalkTruth>,
    /// The trunk's deviation from neutral `[flexion, lateral]`, degrees, for a posture hold
    /// (tilt is then the flexion).
    pub posture_deg: Option<[f64; 2]>,
    /// The wobble board's truth, for a wobble wearable.
    pub wobble: Option<WobbleTruth>,
    /// The standing person's truth, for a stance wearable (tilt is then the trunk's AP lean).
    pub stance: Option<StanceTruth>,
}

/// The simulated wobble board at one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WobbleTruth {
    /// True tilt `[AP, ML]` (front edge down, right edge down positive), degrees.
    pub tilt_deg: [f64; 2],
    /// An edge contact by the drill's definition is under way: the rim hit the floor at the
    /// drill's threshold speed or faster, and the board has not yet come
    /// [`EDGE_RELEASE_DEG`](crate::drill::EDGE_RELEASE_DEG) back off the limit.
    pub on_edge: bool,
    /// The rim rests on the floor now.
    pub rim_down: bool,
}

/// Sub-streams of the seed, so that one part's randomness does not shift another's.
mod stream {
    pub const PERSON: u64 = 1;
    pub const SENSOR: u64 = 2;
    pub const FAULTS: u64 = 3;
    pub const LINK: u64 = 4;
    pub const DEVICE: u64 = 5;
    pub const BOARD_SCHEDULE: u64 = 6;
    pub const SHIFT: u64 = 7;
    pub const SENSOR_GAINS: u64 = 8;
    /// A board straight off the reel's further gain errors.
    pub const BOARD_REEL: u64 = 21;
    pub const STRAP: u64 = 9;
}

/// What moves the wearable's IMU (one per device, built once: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Motion {
    /// A rocker board with a person on it, and the true edge contacts.
    Rocker {
        world: RockerWorld,
        edge_contacts: EdgeContactCounter,
    },
    /// A person walking heel to toe, the sensor on the lower back.
    Walker(WalkWorld),
    /// A person holding their posture, the sensor on the lower back.
    Posture(PostureWorld),
    /// A person standing still, the sensor on the lower back.
    Stance(StanceWorld),
    /// A person turning the sensor through the calibration routine.
    Routine(RoutineWorld),
    /// A person doing the mounting routine, the sensor on the back or on a board.
    Mount(MountWorld),
    /// A wobble board with a person on it, and the true edge contacts.
    Wobble {
        world: WobbleWorld,
        edge_contacts: EdgeContactCounter,
    },
}

impl Motion {
    /// The script's clock of a world that follows a script (a person or a hand); the boards'
    /// physics keeps its own time.
    fn script_clock(&mut self) -> Option<&mut walker::ScriptClock> {
        match self {
            Motion::Walker(world) => Some(world.clock_mut()),
            Motion::Posture(world) => Some(world.clock_mut()),
            Motion::Stance(world) => Some(world.clock_mut()),
            Motion::Routine(world) => Some(world.clock_mut()),
            Motion::Mount(world) => Some(world.clock_mut()),
            Motion::Rocker { .. } | Motion::Wobble { .. } => None,
        }
    }
}

/// The virtual device: a wearable IMU (on a rocker or wobble board, or on a person's lower
/// back), running proprio's firmware protocol; or, for [`SimDevice::BalanceBoard`], a balance
/// board.
pub struct VirtualDevice {
    config: SimConfig,
    motion: Motion,
    imu: VirtualImu,
    fault_rng: SimRng,
    commands: Decoder<HostMessage>,
    device_id: u32,
    t_true_us: u64,
    clock_start_us: u32,
    streaming: bool,
    rate_hz: u16,
    next_sample_us: f64,
    next_status_us: u64,
    seq: u32,
    batch: heapless::Vec<ImuSample, MAX_BATCH>,
    /// Sums of the true specific force and rate since the last sample, and their count.
    interval_sums: (nalgebra::Vector3<f64>, nalgebra::Vector3<f64>, u32),
    pending_replies: Vec<DeviceMessage>,
    /// The balance board this device is instead, for [`SimDevice::BalanceBoard`].
    board: Option<Box<VirtualBoard>>,
}

impl VirtualDevice {
    /// A powered-on device, not yet streaming (it waits for [`HostMessage::Start`]).
    pub fn new(config: SimConfig) -> Self {
        let mut device_rng = SimRng::new(config.seed, stream::DEVICE);
        let clock_start_us = config
            .device_clock_start_us
            .unwrap_or_else(|| device_rng.next_u64() as u32);
        let device_id = device_rng.next_u64() as u32;
        let motion = if config.device == SimDevice::LumbarWearable {
            Motion::Walker(WalkWorld::for_config(&config))
        } else if config.device == SimDevice::PostureWearable {
            Motion::Posture(PostureWorld::for_config(&config))
        } else if config.device == SimDevice::StanceWearable {
            Motion::Stance(StanceWorld::for_config(&config))
        } else if config.device == SimDevice::CalibrationWearable {
            Motion::Routine(RoutineWorld::new())
        } else if config.device == SimDevice::MountWearable {
            Motion::Mount(MountWorld::back(&config))
        } else if config.device == SimDevice::MountBoard {
            Motion::Mount(MountWorld::board(&config))
        } else if config.device == SimDevice::WobbleWearable {
            Motion::Wobble {
                world: WobbleWorld::for_config(&config),
                edge_contacts: EdgeContactCounter::new(
                    config.board.limit_deg,
                    config.step_on_s > 0.0,
                ),
            }
        } else {
            Motion::Rocker {
                world: RockerWorld::new(
                    Person::with_skill(config.skill),
                    config.board,
                    config.step_on_s,
                    SimRng::new(config.seed, stream::PERSON),
                ),
                edge_contacts: EdgeContactCounter::new(
                    config.board.limit_deg,
                    config.step_on_s > 0.0,
                ),
            }
        };
        VirtualDevice {
            motion,
            imu: VirtualImu::new(
                config.sensor,
                config.board.imu_height_m,
                SimRng::new(config.seed, stream::SENSOR),
                SimRng::new(config.seed, stream::SENSOR_GAINS),
            ),
            fault_rng: SimRng::new(config.seed, stream::FAULTS),
            commands: Decoder::new(),
            device_id,
            t_true_us: 0,
            clock_start_us,
            // A WitMotion sensor streams from power-on.
            streaming: config.output.is_witmotion(),
            rate_hz: config.rate_hz,
            next_sample_us: f64::from(clock_start_us),
            next_status_us: 0,
            seq: 0,
            batch: heapless::Vec::new(),
            interval_sums: (nalgebra::Vector3::zeros(), nalgebra::Vector3::zeros(), 0),
            pending_replies: Vec::new(),
            board: (config.device.kind() == DeviceKind::BalanceBoard)
                .then(|| Box::new(VirtualBoard::new(config))),
            config,
        }
    }

    /// The errors the wearable's IMU was drawn with: what a perfect calibration undoes (the
    /// same for every kind of wearable of one seed and [`SensorErrors`]).
    pub fn sensor_truth(&self) -> SensorTruth {
        self.imu.truth()
    }

    /// Each cell's true gain of a balance board, newtons per count ([`VirtualBoard::cell_n_per_count`]).
    pub fn board_cell_n_per_count(&self) -> Option<[f64; 4]> {
        self.board.as_ref().map(|b| b.cell_n_per_count())
    }

    /// How the wearable is strapped on, when crooked ([`SimConfig::strap`]; none on a hand-held
    /// calibration routine): the mounting a perfect calibration finds.
    pub fn strap(&self) -> Option<Strap> {
        match self.motion {
            Motion::Routine(_) => None,
            _ => self.config.strap,
        }
    }

    /// The balance board's person and script, for a [`SimDevice::BalanceBoard`] (to see the
    /// weight shift's truth).
    pub fn balance_world(&self) -> Option<&BalanceWorld> {
        self.board.as_ref().map(|b| b.world())
    }

    /// The line layout a [`SimOutput::Hx711Text`] board prints (default: `TL,TR,BR,BL` in
    /// counts); nothing for other devices.
    pub fn set_hx711_format(&mut self, format: crate::devices::Hx711Format) {
        if let Some(board) = self.board.as_mut() {
            board.set_hx711_format(format);
        }
    }

    /// Takes bytes the host wrote (any chunking); commands take effect at the current time.
    pub fn receive(&mut self, bytes: &[u8]) {
        if let Some(board) = self.board.as_mut() {
            return board.receive(bytes);
        }
        if self.config.output != SimOutput::Proprio {
            return; // speaks only its own format
        }
        for command in decode_commands(&mut self.commands, bytes) {
            self.handle(command);
        }
    }

    fn handle(&mut self, command: HostMessage) {
        let ack = |status| {
            DeviceMessage::Ack(Ack {
                command: command.kind(),
                status,
            })
        };
        match command {
            HostMessage::GetInfo => self.pending_replies.push(DeviceMessage::Hello(self.info())),
            HostMessage::Start { rate_hz } => {
                self.rate_hz = rate_hz.clamp(10, 400);
                self.streaming = true;
                self.next_sample_us = self.device_clock_us() as f64;
                self.next_status_us = self.t_true_us;
                self.pending_replies.push(DeviceMessage::Hello(self.info()));
            }
            HostMessage::Stop => {
                self.streaming = false;
                self.pending_replies.push(ack(AckStatus::Ok));
            }
            HostMessage::Tare => self.pending_replies.push(ack(AckStatus::Unsupported)),
            HostMessage::Vibrate { .. } => self.pending_replies.push(ack(AckStatus::Ok)),
        }
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            kind: DeviceKind::Wearable,
            firmware: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
            device_id: self.device_id,
            sample_rate_hz: f32::from(self.rate_hz),
            acc_m_s2_per_lsb: ACC_M_S2_PER_LSB as f32,
            gyr_rad_s_per_lsb: GYR_RAD_S_PER_LSB as f32,
            mag_ut_per_lsb: MAG_UT_PER_LSB as f32,
            load_n_per_count: 0.0,
        }
    }

    /// The device's own clock (drifting, not wrapped), µs.
    fn device_clock_us(&self) -> u64 {
        let drifted = self.t_true_us as f64 * (1.0 + self.config.clock_drift_ppm * 1e-6);
        u64::from(self.clock_start_us) + drifted as u64
    }

    fn stalled(&self) -> bool {
        self.config.faults.stall.is_some_and(|s| {
            let t_s = self.t_true_us as f64 * 1e-6;
            t_s >= s.at_s && t_s < s.at_s + s.duration_s
        })
    }

    /// Runs the world up to true time `t_true_us`, appending every frame the device sends to
    /// `out` and, if given, the truth of every sample it takes to `truth`.
    pub fn advance_to(
        &mut self,
        t_true_us: u64,
        out: &mut Vec<u8>,
        mut truth: Option<&mut Vec<SampleTruth>>,
    ) {
        if let Some(board) = self.board.as_mut() {
            return board.advance_to(t_true_us, out, truth);
        }
        for reply in std::mem::take(&mut self.pending_replies) {
            self.emit(&reply, out);
        }
        while self.t_true_us + STEP_US <= t_true_us {
            self.t_true_us += STEP_US;
            if let Some(clock) = self.motion.script_clock() {
                // A person's script runs from the moment the wearable streams.
                if self.streaming {
                    clock.start();
                }
                clock.step(STEP_US);
            }
            let (force, rate) = match &mut self.motion {
                Motion::Rocker {
                    world,
                    edge_contacts,
                } => {
                    let impact = world.step();
                    let tilt_deg = world.state().tilt_rad.to_degrees();
                    edge_contacts.observe(tilt_deg, impact, f64::from(self.rate_hz));
                    self.imu.true_signals(&world.state())
                }
                Motion::Walker(world) => world.signals(),
                Motion::Posture(world) => world.signals(),
                Motion::Stance(world) => world.signals(),
                Motion::Routine(world) => world.signals(),
                Motion::Mount(world) => world.signals(),
                Motion::Wobble {
                    world,
                    edge_contacts,
                } => {
                    let impact = world.step();
                    edge_contacts.observe(world.magnitude_deg(), impact, f64::from(self.rate_hz));
                    world.signals()
                }
            };
            if !self.streaming {
                continue;
            }
            self.interval_sums.0 += force;
            self.interval_sums.1 += rate;
            self.interval_sums.2 += 1;
            let device_us = self.device_clock_us();
            if device_us as f64 >= self.next_sample_us {
                self.next_sample_us += 1e6 / f64::from(self.rate_hz);
                let sample = self.take_sample(device_us as u32);
                let lost = self.stalled() || self.fault_rng.chance(self.config.faults.drop_prob);
                if let Some(t) = truth.as_deref_mut() {
                    let (mut posture_deg, mut wobble, mut stance) = (None, None, None);
                    let (tilt_deg, edge_contacts, walk) = match &self.motion {
                        Motion::Rocker {
                            world,
                            edge_contacts,
                        } => (
                            world.state().tilt_rad.to_degrees(),
                            edge_contacts.counts(),
                            None,
                        ),
                        Motion::Walker(world) => {
                            let truth = world.truth();
                            (truth.roll_deg, EdgeContacts::default(), Some(truth))
                        }
                        Motion::Posture(world) => {
                            let deviation = world.deviation_deg();
                            posture_deg = Some(deviation);
                            (deviation[0], EdgeContacts::default(), None)
                        }
                        Motion::Stance(world) => {
                            let truth = world.truth();
                            stance = Some(truth);
                            (truth.trunk_deg[1], EdgeContacts::default(), None)
                        }
                        Motion::Routine(_) => (0.0, EdgeContacts::default(), None),
                        Motion::Mount(world) => (world.bend_deg(), EdgeContacts::default(), None),
                        Motion::Wobble {
                            world,
                            edge_contacts,
                        } => {
                            wobble = Some(WobbleTruth {
                                tilt_deg: world.tilt_deg(),
                                on_edge: edge_contacts.in_contact(),
                                rim_down: world.state().at_edge,
                            });
                            (world.magnitude_deg(), edge_contacts.counts(), None)
                        }
                    };
                    t.push(SampleTruth {
                        seq: sample.seq,
                        t_true_us: self.t_true_us,
                        t_device_us: sample.t_us,
                        tilt_deg,
                        edge_contacts,
                        lost,
                        board: None,
                        walk,
                        posture_deg,
                        wobble,
                        stance,
                    });
                }
                if !lost {
                    self.queue_sample(sample, out);
                }
            }
            if self.config.output == SimOutput::Proprio && self.t_true_us >= self.next_status_us {
                self.next_status_us += 1_000_000;
                if !self.stalled() {
                    let status = self.status();
                    self.emit(&DeviceMessage::Status(status), out);
                }
            }
        }
    }

    fn take_sample(&mut self, t_us: u32) -> ImuSample {
        let (force_sum, rate_sum, n) = std::mem::take(&mut self.interval_sums);
        let n = f64::from(n.max(1));
        let world_from_imu = match &self.motion {
            Motion::Rocker { world, .. } => VirtualImu::board_orientation(world.state().tilt_rad),
            Motion::Walker(world) => world.world_from_imu(),
            Motion::Posture(world) => world.world_from_imu(),
            Motion::Stance(world) => world.world_from_imu(),
            Motion::Routine(world) => world.world_from_imu(),
            Motion::Mount(world) => world.world_from_imu(),
            Motion::Wobble { world, .. } => world.world_from_imu(),
        };
        let (force, rate) = (force_sum / n, rate_sum / n);
        let raw = match self.strap() {
            // The worlds move the body (or board); a crooked sensor on it sees their signals
            // in its own axes.
            Some(strap) => {
                let body_from_imu = strap.body_from_imu.to_rotation_matrix();
                let imu_from_body = body_from_imu.inverse();
                self.imu.measure(
                    &(imu_from_body * force),
                    &(imu_from_body * rate),
                    &(world_from_imu * body_from_imu),
                )
            }
            None => self.imu.measure(&force, &rate, &world_from_imu),
        };
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        ImuSample {
            seq,
            t_us,
            acc: raw.acc,
            gyr: raw.gyr,
            mag: Some(raw.mag),
        }
    }

    fn queue_sample(&mut self, sample: ImuSample, out: &mut Vec<u8>) {
        if self.config.output.is_witmotion() {
            self.emit_witmotion(&sample, out);
            return;
        }
        if self.config.batch <= 1 {
            self.emit(&DeviceMessage::Imu(sample), out);
            return;
        }
        // A lost sample is never in a batch, so batches stay consecutive only when nothing is lost.
        let _ = self.batch.push(sample);
        if self.batch.len() >= usize::from(self.config.batch).min(MAX_BATCH) {
            let samples = std::mem::take(&mut self.batch);
            self.emit(&DeviceMessage::ImuBatch(ImuBatch { samples }), out);
        }
    }

    fn status(&self) -> Status {
        // A slow, deterministic discharge: 1 % per 3 minutes from 92 %.
        let minutes = self.t_true_us / 60_000_000;
        Status {
            battery_percent: 92u64.saturating_sub(minutes / 3).max(5) as u8,
            battery_mv: 3_950u16.saturating_sub((minutes * 2).min(600) as u16),
            charging: false,
        }
    }

    /// Frames one message, applying the link faults (garbage, bit flips).
    fn emit(&mut self, message: &DeviceMessage, out: &mut Vec<u8>) {
        let mut frame = [0u8; MAX_FRAME_LEN];
        let Ok(n) = encode_frame(message, &mut frame) else {
            return; // every message the device builds fits; nothing to send otherwise
        };
        self.emit_bytes(&frame[..n], out);
    }

    /// One sample as a WitMotion sensor would send it, in its own scales: on serial
    /// acceleration, angular rate, angles and magnetic field frames; over BLE one packet.
    fn emit_witmotion(&mut self, sample: &ImuSample, out: &mut Vec<u8>) {
        use crate::devices::witmotion::{self as wit, ble_packet, serial_frame};
        let rescale = |raw: [i16; 3], from: f64, to: f32| -> [i16; 3] {
            raw.map(|c| {
                (f64::from(c) * from / f64::from(to))
                    .round()
                    .clamp(-32768.0, 32767.0) as i16
            })
        };
        let acc = rescale(sample.acc, ACC_M_S2_PER_LSB, wit::ACC_M_S2_PER_LSB);
        let gyr = rescale(sample.gyr, GYR_RAD_S_PER_LSB, wit::GYR_RAD_S_PER_LSB);
        let [ax, ay, az] = sample.acc.map(f64::from);
        let roll_deg = ay.atan2(az).to_degrees();
        let pitch_deg = (-ax).atan2(ay.hypot(az)).to_degrees();
        let angle = |deg: f64| (deg / 180.0 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        const TEMPERATURE: i16 = 2_512; // 25.12 °C in 0.01 °C
        const VOLTAGE: i16 = 370; // 3.70 V in 0.01 V
        let angles = [angle(roll_deg), angle(pitch_deg), 0];
        if self.config.output == SimOutput::WitmotionBle {
            self.emit_bytes(&ble_packet(acc, gyr, angles), out);
            return;
        }
        let mag = sample.mag.unwrap_or_default();
        let frames = [
            serial_frame(wit::SERIAL_ACC, [acc[0], acc[1], acc[2], TEMPERATURE]),
            serial_frame(wit::SERIAL_GYRO, [gyr[0], gyr[1], gyr[2], VOLTAGE]),
            serial_frame(wit::SERIAL_ANGLE, [angles[0], angles[1], angles[2], 0]),
            serial_frame(wit::SERIAL_MAG, [mag[0], mag[1], mag[2], TEMPERATURE]),
        ];
        for frame in frames {
            self.emit_bytes(&frame, out);
        }
    }

    /// Appends bytes as sent, applying the link faults (garbage, bit flips).
    fn emit_bytes(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        let n = frame.len();
        let faults = self.config.faults;
        if self.fault_rng.chance(faults.garbage_prob) {
            let len = 1 + self.fault_rng.below(24) as usize;
            out.extend((0..len).map(|_| self.fault_rng.next_u64() as u8));
        }
        let start = out.len();
        out.extend_from_slice(frame);
        if self.fault_rng.chance(faults.corrupt_prob) {
            let bit = self.fault_rng.below(n as u64 * 8) as usize;
            out[start + bit / 8] ^= 1 << (bit % 8);
        }
    }
}

/// The host commands completed by `bytes` (any chunking); damaged ones are ignored, as a
/// device's firmware would.
fn decode_commands(commands: &mut Decoder<HostMessage>, bytes: &[u8]) -> Vec<HostMessage> {
    let mut decoded = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (outcome, tail) = commands.feed(rest);
        rest = tail;
        if let Some(Ok(command)) = outcome {
            decoded.push(command);
        }
    }
    decoded
}

/// Simulated link timing: how often bytes reach the host and how late.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkTiming {
    /// Bytes are handed to the host in one chunk per interval (a USB poll, a BLE connection
    /// event), µs.
    pub interval_us: u64,
    /// Fixed part of the delivery latency, µs.
    pub latency_us: u64,
    /// Random extra latency, up to this, µs.
    pub jitter_us: u64,
}

impl Default for LinkTiming {
    fn default() -> Self {
        LinkTiming {
            interval_us: 10_000,
            latency_us: 2_000,
            jitter_us: 3_000,
        }
    }
}

/// Bytes as they reach the host: a chunk and its receive time on the host's clock, µs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Host receive time, µs since the link opened.
    pub t_host_us: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A [`VirtualDevice`] behind a simulated serial link. Each call to
/// [`SimTransport::next_deliveries`] advances one link interval and returns what the host
/// receives in it, split at arbitrary byte positions as real serial reads are.
pub struct SimTransport {
    device: VirtualDevice,
    timing: LinkTiming,
    rng: SimRng,
    pending: Vec<u8>,
    t_us: u64,
}

impl SimTransport {
    /// The device of `config` with default link timing.
    pub fn new(config: SimConfig) -> Self {
        SimTransport {
            rng: SimRng::new(config.seed, stream::LINK),
            device: VirtualDevice::new(config),
            timing: LinkTiming::default(),
            pending: Vec::new(),
            t_us: 0,
        }
    }

    /// The device (to set an HX711 layout, or see the simulated person).
    pub fn device_mut(&mut self) -> &mut VirtualDevice {
        &mut self.device
    }

    /// The device (to see the simulated person).
    pub fn device(&self) -> &VirtualDevice {
        &self.device
    }

    /// Host clock (= simulation time), µs.
    pub fn now_us(&self) -> u64 {
        self.t_us
    }

    /// Sends host bytes to the device (delivered at once).
    pub fn send(&mut self, bytes: &[u8]) {
        self.device.receive(bytes);
    }

    /// Advances one link interval; returns the chunks the host receives, with truth if asked.
    pub fn next_deliveries(&mut self, truth: Option<&mut Vec<SampleTruth>>) -> Vec<Delivery> {
        self.t_us += self.timing.interval_us;
        self.device.advance_to(self.t_us, &mut self.pending, truth);
        if self.pending.is_empty() {
            return Vec::new();
        }
        let bytes = std::mem::take(&mut self.pending);
        let t_host_us =
            self.t_us + self.timing.latency_us + self.rng.below(self.timing.jitter_us + 1);
        // Up to three reads per interval, cut anywhere (a frame may span reads).
        let pieces = 1 + self.rng.below(3) as usize;
        let mut cuts: Vec<usize> = (1..pieces)
            .map(|_| self.rng.below(bytes.len() as u64) as usize)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut deliveries = Vec::with_capacity(pieces);
        let mut start = 0;
        for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            if cut > start {
                deliveries.push(Delivery {
                    t_host_us,
                    bytes: bytes[start..cut].to_vec(),
                });
                start = cut;
            }
        }
        deliveries
    }
}
