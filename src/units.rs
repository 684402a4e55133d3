//! How sizes and ages are shown, the same way in every command: bytes in IEC units (a KiB is
//! 1024 bytes, and says so), ages in the largest whole unit that reads well.

/// `512 B`, `1.2 KiB`, `75.0 MiB`, `3.1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    // Rounds to 1024.0 of a unit: show the next one instead.
    while v >= 1023.95 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// An age or a duration in seconds: `45s`, `12m`, `36h`, `30d`, `2w`. Days, hours and minutes
/// are used when the value is a whole number of them or at least two (rounded down), so `90m`
/// stays exact and `3d` is short; weeks only when whole (`30d`, not `4w`).
pub fn age(secs: u64) -> String {
    if secs >= 7 * 86_400 && secs.is_multiple_of(7 * 86_400) {
        return format!("{}w", secs / (7 * 86_400));
    }
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) || secs >= 2 * n {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_iec_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1_234), "1.2 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(405 * 1024 * 1024), "405.0 MiB");
        assert_eq!(bytes(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(bytes(3_100_000_000), "2.9 GiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn ages() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(60), "1m");
        assert_eq!(age(90), "90s");
        assert_eq!(age(5400), "90m");
        assert_eq!(age(36 * 3600), "36h");
        assert_eq!(age(3 * 86_400), "3d");
        assert_eq!(age(7 * 86_400), "1w");
        assert_eq!(age(14 * 86_400), "2w");
        assert_eq!(age(30 * 86_400), "30d");
    }
}
