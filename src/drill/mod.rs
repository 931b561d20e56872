//! Drills: what the user does, how it is measured and scored.
//!
//! # Brief overview
//! - [`DrillKind`] names a drill and says, in plain words, what it trains and why it helps the
//!   back ([`DrillKind::purpose`]).
//! - [`RockerHold`] is the rocker-board hold: it consumes [`BoardTilt`](crate::pipeline::BoardTilt)
//!   signals in device time, emits [`DrillEvent`]s as they happen, and ends with a
//!   [`RockerHoldOutcome`]: metrics and a 0–100 score.

mod rocker_hold;

use serde::{Deserialize, Serialize};

pub use rocker_hold::{
    RockerHold, RockerHoldConfig, RockerHoldLive, RockerHoldMetrics, RockerHoldOutcome,
    RockerLevel, EDGE_RELEASE_DEG, ROCKER_LEVELS, STABLE_S,
};

/// Every drill proprio knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillKind {
    /// Stand on a rocker board (one axis) and keep it level.
    RockerHold,
}

impl DrillKind {
    /// All drills, in the order they are listed.
    pub const ALL: [DrillKind; 1] = [DrillKind::RockerHold];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            DrillKind::RockerHold => "rocker-hold",
        }
    }

    /// A drill by its command-line name.
    pub fn from_name(name: &str) -> Option<DrillKind> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// What you do, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Stand on a rocker board with feet either side of the middle and keep it level."
            }
        }
    }

    /// What it trains and why that helps the back.
    pub fn purpose(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Trains the small, quick corrections of the ankles, hips and deep trunk muscles \
                 that keep you balanced. Those automatic reactions are slowed by back pain, and \
                 retraining them is what keeps the back stable and the pain from returning."
            }
        }
    }

    /// When to stop.
    pub fn safety(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Stand next to a wall or a sturdy chair you can hold. Stop at once if it hurts: \
                 mild effort is fine, pain is not."
            }
        }
    }

    /// What the sensor measures in this drill.
    pub fn sensor(self) -> &'static str {
        match self {
            DrillKind::RockerHold => "IMU strapped to the board, x axis along the rocker",
        }
    }
}

/// Why a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The full duration was done.
    Completed,
    /// The user stopped it.
    UserStop,
    /// The user stopped it because it hurt.
    PainStop,
    /// The link was lost and not recovered.
    LinkLost,
    /// The data ended before the drill did (e.g. a recording of a session that was cut off).
    DataEnded,
}

/// Which way the board tipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Tilt was positive.
    Positive,
    /// Tilt was negative.
    Negative,
}

impl Side {
    /// The side of a signed value.
    pub fn of(value: f64) -> Side {
        if value >= 0.0 {
            Side::Positive
        } else {
            Side::Negative
        }
    }
}

/// Something that happened during a drill, at a time in seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DrillEvent {
    /// The board's edge touched the floor.
    EdgeContact {
        /// Seconds from the start.
        t_s: f64,
        /// Which edge.
        side: Side,
    },
    /// The tilt left the target band.
    LeftBand {
        /// Seconds from the start.
        t_s: f64,
        /// Which way.
        side: Side,
    },
    /// The tilt came back into the band: the user corrected.
    Corrected {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The board stayed in the band long enough to count as stabilised, for the first time.
    Stabilised {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The drill ended.
    Ended {
        /// Seconds from the start.
        t_s: f64,
        /// Why.
        reason: EndReason,
    },
}
