//! What a conditional answer into a local calendar file costs: the
//! exchange-and-verify protocol of `source::vdir` (temporary file,
//! `RENAME_EXCHANGE`, identity and content check of the file swapped
//! out) against the check-then-rename it replaced, re-implemented here as
//! the baseline. A plain program; median of rounds, spread beside it.
//!
//! Run with `cargo bench --bench vdir`.

use std::path::Path;
use std::time::{Duration, Instant};

use gatekeeper::source::ItemRef;
use gatekeeper::source::vdir::VdirSource;

const FILES: usize = 500;
const ROUNDS: usize = 5;

fn invite(i: usize) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\nBEGIN:VEVENT\r\nUID:b-{i}@example.com\r\nDTSTAMP:20261120T000000Z\r\nDTSTART:20261202T200000Z\r\nDTEND:20261202T210000Z\r\nSUMMARY:Bench {i}\r\nORGANIZER:mailto:carol@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ana@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn fill(dir: &Path) {
    std::fs::create_dir_all(dir.join("work")).unwrap();
    for i in 0..FILES {
        std::fs::write(dir.join(format!("work/{i:04}.ics")), invite(i)).unwrap();
    }
}

/// The old protocol: compare the etag, write a temporary file, rename it
/// over the item (no fsync, no check after).
fn old_write(root: &Path, item: &ItemRef, text: &str) {
    let path = root.join(&item.calendar).join(&item.href);
    let _ = std::fs::metadata(&path).unwrap();
    let tmp = root
        .join(&item.calendar)
        .join(format!(".{}.gatekeeper-tmp", item.href));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

fn measure(name: &str, new_protocol: bool) {
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path());
        let mut source = VdirSource::new(dir.path().to_path_buf());
        let items = source.list().unwrap();
        let texts: Vec<String> = items
            .iter()
            .map(|i| {
                String::from_utf8_lossy(&source.read(i).unwrap())
                    .replace("NEEDS-ACTION", "DECLINED")
            })
            .collect();
        let start = Instant::now();
        for (item, text) in items.iter().zip(&texts) {
            if new_protocol {
                source.write(item, text.as_bytes()).unwrap();
            } else {
                old_write(dir.path(), item, text);
            }
        }
        times.push(start.elapsed() / FILES as u32);
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<40} {:>8.1} µs per answer (min {:.1}, max {:.1})",
        us(times[ROUNDS / 2]),
        us(times[0]),
        us(times[ROUNDS - 1])
    );
}

fn main() {
    println!("{FILES} answers into local calendar files, {ROUNDS} rounds");
    measure("check-then-rename (before)", false);
    measure("exchange and verify (after)", true);
}
