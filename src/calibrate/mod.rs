//! The guided calibration routines, sans-IO, and the profiles they leave.
//!
//! A routine takes samples ([`RoutineInput`]) and says where the user stands
//! ([`RoutineProgress`]: one sentence of what to do now, and how far along the step is); it
//! advances only on what the data shows (stillness held, a new pose reached, a load placed), never
//! on a key, so it also runs unattended. When it is done, [`Routine::finish`] gives a [`Profile`]
//! (or a [`CalibrationError`] naming what the data could not support). The math is
//! [`proprio_calibration`]'s.
//!
//! Profiles are stored per device (and, for the neutral posture, per user) by the app; a
//! session's header carries the stored profiles ([`Profiles`]) and the session applies those of
//! the device that introduces itself ([`Profiles::for_device`], [`Profiles::apply`]), so a
//! recording replays with the calibration it was made with, whatever was calibrated since.
//!
//! - [`imu`]: the IMU's gyroscope bias, accelerometer offset, scale and cross-axis terms, and
//!   the magnetometer's hard and soft iron.
//! - [`mount`]: how the wearable sits on the lower back, or on a board (`body_from_imu`,
//!   `board_from_imu`), from two still poses.
//! - [`neutral`]: the user's comfortable neutral posture, for the neutral-spine hold.
//! - [`board`]: a balance board's per-cell gains from a known mass on each corner, its tare,
//!   and a check at the centre.

use proprio_calibration::CalibrationError;
use proprio_protocol::{DeviceKind, LoadSample};
use serde::{Deserialize, Serialize};

use crate::pipeline::{ImuSi, PipelineConfig};

pub mod board;
pub mod imu;
pub mod mount;
pub mod neutral;

pub use board::{BoardCheck, BoardRoutine, BoardRoutineResult, BoardSpot, BoardStep};
pub use imu::{ImuRoutine, ImuRoutineResult, ImuStep};
pub use mount::{MountRoutine, MountRoutineResult, MountStep};
pub use neutral::{NeutralPosture, NeutralRoutine};

/// What a routine is fed.
#[derive(Debug, Clone, Copy)]
pub enum RoutineInput<'a> {
    /// An IMU sample in SI units, with the device's stored calibrations that the routine builds
    /// on already applied ([`ProfileKind::builds_on`]).
    Imu(&'a ImuSi),
    /// A balance board's sample, raw counts.
    Load(&'a LoadSample),
}

/// Where a routine stands, for the display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutineProgress {
    /// What the user should do now, in one sentence.
    pub instruction: String,
    /// The step the routine is on, from 1.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// How far along the current step is, 0–1.
    pub step_fraction: f64,
    /// The data is complete: call [`Routine::finish`].
    pub done: bool,
}

/// A guided calibration routine (see the module docs).
pub trait Routine {
    /// Takes one sample (of the kind the routine's device sends; others are ignored).
    fn push(&mut self, input: RoutineInput<'_>);
    /// Where it stands.
    fn progress(&self) -> RoutineProgress;
    /// The profile the data supports; an error names what is missing.
    fn finish(&self) -> Result<Profile, CalibrationError>;
}

/// The kinds of calibration, in the order they build on one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// An IMU's sensor errors.
    Imu,
    /// How the wearable sits on the lower back.
    Mount,
    /// How the wearable sits on a rocker or wobble board (the same sensor may be worn one day
    /// and strapped to a board the next, so each placement keeps its own).
    MountBoard,
    /// A person's comfortable neutral posture, with the wearable on.
    Neutral,
    /// A balance board's per-cell gains.
    Board,
}

impl ProfileKind {
    /// Its name, as the command and the database spell it.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Imu => "imu",
            ProfileKind::Mount => "mount",
            ProfileKind::MountBoard => "mount-board",
            ProfileKind::Neutral => "neutral",
            ProfileKind::Board => "board",
        }
    }

    /// The device it calibrates.
    pub fn device(self) -> DeviceKind {
        match self {
            ProfileKind::Imu
            | ProfileKind::Mount
            | ProfileKind::MountBoard
            | ProfileKind::Neutral => DeviceKind::Wearable,
            ProfileKind::Board => DeviceKind::BalanceBoard,
        }
    }

    /// True for a profile of a person rather than of a device: stored for the user who made it.
    pub fn per_user(self) -> bool {
        self == ProfileKind::Neutral
    }

    /// The stored calibrations applied to the samples a routine of this kind is fed: those it
    /// builds on (an IMU routine takes uncalibrated samples; a mounting routine the IMU's
    /// calibrated ones, in sensor axes).
    pub fn builds_on(self) -> &'static [ProfileKind] {
        match self {
            ProfileKind::Imu | ProfileKind::Board => &[],
            ProfileKind::Mount | ProfileKind::MountBoard => &[ProfileKind::Imu],
            // Captured in body axes, as the neutral-spine hold sees them.
            ProfileKind::Neutral => &[ProfileKind::Imu, ProfileKind::Mount],
        }
    }
}

/// A calibration a routine made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
// A handful per session, made once: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Profile {
    /// An IMU's sensor errors.
    Imu(Box<ImuRoutineResult>),
    /// How the wearable sits on the lower back (`body_from_imu`).
    Mount(MountRoutineResult),
    /// How the wearable sits on a board (`board_from_imu`).
    MountBoard(MountRoutineResult),
    /// A person's neutral posture.
    Neutral(NeutralPosture),
    /// A balance board's per-cell gains.
    Board(BoardRoutineResult),
}

impl Profile {
    /// Which calibration it is.
    pub fn kind(&self) -> ProfileKind {
        match self {
            Profile::Imu(_) => ProfileKind::Imu,
            Profile::Mount(_) => ProfileKind::Mount,
            Profile::MountBoard(_) => ProfileKind::MountBoard,
            Profile::Neutral(_) => ProfileKind::Neutral,
            Profile::Board(_) => ProfileKind::Board,
        }
    }

    /// What it found and how far to trust it, a line per sensor, for people.
    pub fn summary(&self) -> Vec<String> {
        match self {
            Profile::Imu(result) => result.summary(),
            Profile::Mount(result) | Profile::MountBoard(result) => result.summary(),
            Profile::Neutral(neutral) => neutral.summary(),
            Profile::Board(result) => result.summary(),
        }
    }

    /// Puts it in force in `config`.
    pub fn apply(&self, config: &mut PipelineConfig) {
        match self {
            Profile::Imu(result) => config.calibration = result.calibration,
            // The session's chain picks the placement its drill uses (`PipelineConfig::placed`).
            Profile::Mount(result) => config.mounting.back = Some(result.mounting.body_from_imu),
            Profile::MountBoard(result) => {
                config.mounting.board = Some(result.mounting.body_from_imu)
            }
            Profile::Neutral(neutral) => config.neutral_up = Some(neutral.up_in_body),
            // The gains hold for the geometry they were fitted with; the tare is not applied
            // (each drill tares the board anew).
            Profile::Board(result) => {
                config.cop.cell_n_per_count = Some(result.gains.n_per_count);
                config.cop.geometry = result.geometry;
            }
        }
    }
}

/// A stored profile: whose device (or user) it is for, and when it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProfile {
    /// The device's kind, as it introduced itself.
    pub device_kind: DeviceKind,
    /// The device's serial number.
    pub device_id: u32,
    /// The user it belongs to, for a profile of a person (the neutral posture); `None` for the
    /// device's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When it was made, UTC, RFC 3339.
    pub created_utc: String,
    /// The calibration.
    pub profile: Profile,
}

/// Which stored profile a session applied; in its result, so an old session stays
/// interpretable after a recalibration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedProfile {
    /// Which calibration.
    pub kind: ProfileKind,
    /// When it was made, UTC, RFC 3339.
    pub created_utc: String,
}

/// The stored profiles a session may apply (its header's), oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Profiles(pub Vec<StoredProfile>);

impl Profiles {
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Those of the kinds in `kinds`.
    pub fn only(&self, kinds: &[ProfileKind]) -> Profiles {
        Profiles(
            self.0
                .iter()
                .filter(|s| kinds.contains(&s.profile.kind()))
                .cloned()
                .collect(),
        )
    }

    /// Only the latest profile of each kind for each device: what a session's header needs.
    pub fn latest(&self) -> Profiles {
        Profiles(self.latest_of_each().into_iter().cloned().collect())
    }

    /// Whether each profile is the latest of its kind for its device (the one sessions apply).
    pub fn in_force(&self) -> Vec<bool> {
        let latest = self.latest_of_each();
        self.0
            .iter()
            .map(|s| latest.iter().any(|l| std::ptr::eq(*l, s)))
            .collect()
    }

    /// The latest profile of each kind for the device `kind`/`device_id`, in
    /// [`ProfileKind`] order; a neutral posture captured through another mounting than the
    /// back's in force is left out (its axes are not the drill's).
    pub fn for_device(&self, kind: DeviceKind, device_id: u32) -> Vec<&StoredProfile> {
        let mut latest: Vec<&StoredProfile> = self
            .latest_of_each()
            .into_iter()
            .filter(|s| s.device_kind == kind && s.device_id == device_id)
            .collect();
        latest.sort_by_key(|s| s.profile.kind());
        let mount = latest
            .iter()
            .find(|s| s.profile.kind() == ProfileKind::Mount)
            .map(|s| s.created_utc.clone());
        latest.retain(|s| match &s.profile {
            Profile::Neutral(neutral) => neutral.mount_created_utc == mount,
            _ => true,
        });
        latest
    }

    /// The latest of each kind for each device, in storage order: a later one of the same
    /// kind for the same device replaces an earlier one.
    fn latest_of_each(&self) -> Vec<&StoredProfile> {
        let key = |s: &StoredProfile| (s.device_kind, s.device_id, s.profile.kind());
        self.0
            .iter()
            .enumerate()
            .filter(|(i, s)| !self.0[i + 1..].iter().any(|later| key(later) == key(s)))
            .map(|(_, s)| s)
            .collect()
    }

    /// `config` with the device's profiles ([`Profiles::for_device`]) in force, and which they
    /// were.
    pub fn apply(
        &self,
        kind: DeviceKind,
        device_id: u32,
        config: &PipelineConfig,
    ) -> (PipelineConfig, Vec<AppliedProfile>) {
        let mut config = *config;
        let mut applied = Vec::new();
        for stored in self.for_device(kind, device_id) {
            stored.profile.apply(&mut config);
            applied.push(AppliedProfile {
                kind: stored.profile.kind(),
                created_utc: stored.created_utc.clone(),
            });
        }
        (config, applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;
    use proprio_calibration::AffineCorrection;

    fn imu_profile(bias: f64) -> Profile {
        let mut routine: Box<dyn Routine> = Box::new(ImuRoutine::new(100.0, false));
        // Ten still poses: the routine's own data, so the profile is one it could make.
        let g = 9.80665;
        let faces = [
            Vector3::z(),
            Vector3::y(),
            -Vector3::z(),
            -Vector3::y(),
            Vector3::x(),
            -Vector3::x(),
            Vector3::new(1.0, 1.0, 1.0).normalize(),
            Vector3::new(-1.0, 1.0, 1.0).normalize(),
            Vector3::new(1.0, -1.0, -1.0).normalize(),
            Vector3::new(-1.0, -1.0, 1.0).normalize(),
        ];
        for (k, up) in faces.iter().enumerate() {
            let hold = if k == 0 { 450 } else { 250 };
            for i in 0..hold {
                // A little noise, or the stillness detector's spread is exactly zero.
                let wiggle = ((i * 7919 + k * 31) % 13) as f64 * 1e-4;
                routine.push(RoutineInput::Imu(&ImuSi {
                    acc_m_s2: up * g + Vector3::repeat(wiggle),
                    gyr_rad_s: Vector3::new(bias, 0.0, wiggle),
                    mag_ut: None,
                }));
            }
            // A turn between poses breaks the stillness.
            for _ in 0..20 {
                routine.push(RoutineInput::Imu(&ImuSi {
                    acc_m_s2: up * g,
                    gyr_rad_s: Vector3::new(1.0, 0.0, 0.0),
                    mag_ut: None,
                }));
            }
        }
        assert!(routine.progress().done, "{:?}", routine.progress());
        routine.finish().unwrap()
    }

    #[test]
    fn a_neutral_is_applied_only_with_the_mounting_it_was_captured_through() {
        use nalgebra::UnitQuaternion;
        use proprio_calibration::mount::Mounting;
        let stored = |created: &str, profile| StoredProfile {
            device_kind: DeviceKind::Wearable,
            device_id: 7,
            user: None,
            created_utc: created.into(),
            profile,
        };
        let mount = |created: &str| {
            stored(
                created,
                Profile::Mount(MountRoutineResult {
                    mounting: Mounting {
                        body_from_imu: UnitQuaternion::from_euler_angles(0.0, 0.0, 1.0),
                        bend_deg: 30.0,
                    },
                    upright_m_s2: Vector3::z(),
                    bent_m_s2: Vector3::x(),
                }),
            )
        };
        let neutral = |created: &str, through: Option<&str>| {
            stored(
                created,
                Profile::Neutral(NeutralPosture {
                    up_in_body: Vector3::z(),
                    from_vertical_deg: 0.0,
                    sway_rms_deg: 0.2,
                    samples: 500,
                    mount_created_utc: through.map(str::to_string),
                }),
            )
        };
        let kinds = |profiles: &Profiles| -> Vec<ProfileKind> {
            profiles
                .for_device(DeviceKind::Wearable, 7)
                .iter()
                .map(|s| s.profile.kind())
                .collect()
        };
        // Captured without a mounting: applied while there is none, not after one is made.
        let mut profiles = Profiles(vec![neutral("2026-01-01T00:00:00Z", None)]);
        assert_eq!(kinds(&profiles), [ProfileKind::Neutral]);
        profiles.0.push(mount("2026-01-02T00:00:00Z"));
        assert_eq!(kinds(&profiles), [ProfileKind::Mount]);
        // Captured again through it: applied; a newer mounting sets it aside again.
        profiles.0.push(neutral(
            "2026-01-03T00:00:00Z",
            Some("2026-01-02T00:00:00Z"),
        ));
        assert_eq!(kinds(&profiles), [ProfileKind::Mount, ProfileKind::Neutral]);
        profiles.0.push(mount("2026-01-04T00:00:00Z"));
        assert_eq!(kinds(&profiles), [ProfileKind::Mount]);
    }

    #[test]
    fn the_latest_profile_of_the_device_is_applied() {
        let stored = |device_id, created: &str, bias| StoredProfile {
            device_kind: DeviceKind::Wearable,
            device_id,
            user: None,
            created_utc: created.into(),
            profile: imu_profile(bias),
        };
        let profiles = Profiles(vec![
            stored(7, "2026-01-01T00:00:00Z", 0.01),
            stored(8, "2026-01-02T00:00:00Z", 0.02),
            stored(7, "2026-01-03T00:00:00Z", 0.03),
        ]);
        let (config, applied) = profiles.apply(DeviceKind::Wearable, 7, &PipelineConfig::default());
        assert_eq!(
            applied,
            vec![AppliedProfile {
                kind: ProfileKind::Imu,
                created_utc: "2026-01-03T00:00:00Z".into()
            }]
        );
        assert!((config.calibration.gyr.offset.x - 0.03).abs() < 1e-3);
        // Another device, or a board with the same serial, gets nothing.
        let (config, applied) = profiles.apply(DeviceKind::Wearable, 9, &PipelineConfig::default());
        assert!(applied.is_empty());
        assert_eq!(config.calibration.gyr, AffineCorrection::identity());
        assert!(profiles.for_device(DeviceKind::BalanceBoard, 7).is_empty());
    }
}
