//! Recording and replay: live == replay to the bit, same seed → same bytes, faults counted,
//! damaged files reported.

use proprio::recording::{Record, RecordingError, RecordingReader, RecordingWriter};
use proprio::session::{Session, SessionReport};
use proprio::sim::{SimConfig, Stall};

use crate::common::{meta, run_sim};

fn write(sim: SimConfig, records: &[Record]) -> Vec<u8> {
    write_with_ends(sim, records).0
}

/// The recording's bytes, and where each record ends in them.
fn write_with_ends(sim: SimConfig, records: &[Record]) -> (Vec<u8>, Vec<usize>) {
    let mut writer = RecordingWriter::new(Vec::new(), &meta(sim, 2, 30.0)).unwrap();
    let mut ends = Vec::new();
    for r in records {
        writer.write(r).unwrap();
        ends.push(writer.get_mut().len());
    }
    (std::mem::take(writer.get_mut()), ends)
}

fn replay(bytes: &[u8]) -> Result<SessionReport, RecordingError> {
    let mut reader = RecordingReader::new(bytes)?;
    let mut session = Session::new(reader.meta().clone());
    let mut events = Vec::new();
    while let Some(record) = reader.next_record()? {
        session.handle(&record, &mut events);
    }
    Ok(session.finish())
}

fn faulty(seed: u64) -> SimConfig {
    let mut sim = SimConfig::new(seed);
    sim.faults.drop_prob = 0.01;
    sim.faults.corrupt_prob = 0.01;
    sim.faults.garbage_prob = 0.01;
    sim.faults.stall = Some(Stall {
        at_s: 12.0,
        duration_s: 2.0,
    });
    sim
}

#[test]
fn replay_gives_the_live_result_to_the_bit_even_with_faults() {
    for sim in [SimConfig::new(7), faulty(8)] {
        let (live, records, _) = run_sim(sim, 2, 30.0);
        let replayed = replay(&write(sim, &records)).unwrap();
        assert_eq!(
            serde_json::to_string(&live).unwrap(),
            serde_json::to_string(&replayed).unwrap()
        );
        assert_eq!(live.score.to_bits(), replayed.score.to_bits());
        assert_eq!(
            live.metrics.rocker_hold().unwrap().tilt_rms_deg.to_bits(),
            replayed
                .metrics
                .rocker_hold()
                .unwrap()
                .tilt_rms_deg
                .to_bits()
        );
    }
}

#[test]
fn faults_are_counted_in_the_quality_record_and_never_fatal() {
    let (report, _, truth) = run_sim(faulty(8), 2, 30.0);
    let q = &report.quality;
    assert!(
        q.frames_lost > 200,
        "a 2 s stall at 100 Hz loses 200 samples: {q:?}"
    );
    assert!(q.crc_errors + q.malformed_frames > 5, "{q:?}");
    assert!(q.bytes_discarded > 0);
    assert!(q.gaps >= 1, "the stall is a gap: {q:?}");
    assert!((q.longest_gap_s - 2.0).abs() < 0.05, "{q:?}");
    assert!(q.loss_percent > 5.0 && q.loss_percent < 15.0, "{q:?}");
    // Missing sequence numbers = samples the device dropped (truth) + frames corrupted in transit.
    let seen = q.samples_received + q.samples_before_info + q.frames_lost;
    let dropped = truth
        .iter()
        .filter(|t| t.lost && u64::from(t.seq) < seen)
        .count() as u64;
    assert!(q.frames_lost >= dropped, "{} < {dropped}", q.frames_lost);
    assert!(
        q.frames_lost <= dropped + q.crc_errors + q.malformed_frames,
        "{q:?}"
    );
    assert_eq!(report.end, proprio::drill::EndReason::Completed);
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = write(SimConfig::new(3), &run_sim(SimConfig::new(3), 2, 20.0).1);
    let b = write(SimConfig::new(3), &run_sim(SimConfig::new(3), 2, 20.0).1);
    let c = write(SimConfig::new(4), &run_sim(SimConfig::new(4), 2, 20.0).1);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_cut_off_recording_reports_where_and_keeps_every_complete_record() {
    let sim = SimConfig::new(2);
    let (_, records, _) = run_sim(sim, 2, 10.0);
    // A file cut exactly where a record ends is a shorter complete file, so the cuts are moved
    // off those places.
    let (bytes, ends) = write_with_ends(sim, &records);
    let off_boundary = |cut: usize| (cut..).find(|c| !ends.contains(c)).unwrap();
    for cut in [bytes.len() - 1, bytes.len() - 5, bytes.len() / 2, 100, 20].map(off_boundary) {
        let mut reader = match RecordingReader::new(&bytes[..cut]) {
            Ok(reader) => reader,
            Err(RecordingError::Truncated { .. }) => continue, // cut inside the header
            Err(e) => panic!("cut at {cut}: {e}"),
        };
        let mut complete = 0;
        let error = loop {
            match reader.next_record() {
                Ok(Some(_)) => complete += 1,
                Ok(None) => panic!("cut at {cut} was not noticed"),
                Err(e) => break e,
            }
        };
        assert!(matches!(error, RecordingError::Truncated { .. }), "{error}");
        assert!(complete < records.len());
    }
}

#[test]
fn damaged_and_foreign_files_are_clear_errors() {
    let sim = SimConfig::new(2);
    let bytes = write(sim, &run_sim(sim, 2, 5.0).1);
    // A flipped byte in the middle: the record's checksum catches it.
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let err = replay(&flipped).unwrap_err();
    assert!(
        matches!(
            err,
            RecordingError::Corrupt { .. } | RecordingError::Truncated { .. }
        ),
        "{err}"
    );
    // A newer format version.
    let mut newer = bytes.clone();
    newer[12..16].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(
        replay(&newer).unwrap_err(),
        RecordingError::NewerVersion(2)
    ));
    assert!(matches!(
        replay(b"hello, world").unwrap_err(),
        RecordingError::NotARecording
    ));
    assert!(matches!(
        replay(b"").unwrap_err(),
        RecordingError::NotARecording
    ));
}
