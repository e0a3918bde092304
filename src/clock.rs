//! Wall-clock timestamps for log lines and messages, without a date
//! library.
//!
//! The server stamps each log line with the time in UTC, in the RFC 3339
//! form `2026-11-24T13:14:24.123Z`: it sorts as text, and it means the same
//! wherever the reader is. The standard library gives only "seconds since
//! 1970" ([`std::time::SystemTime`]); turning a day count into a calendar
//! date is a small, well-known piece of arithmetic, done here.
//!
//! People read chat times in their own time zone (`14:03`). The standard
//! library knows nothing of time zones, so [`LocalZone::detect`] asks the
//! system once, by running `date +%z` (which prints the offset from UTC,
//! such as `+0100`), and falls back to UTC where that fails.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since 1970-01-01 UTC, now.
pub fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The local time zone, as an offset from UTC (taken once, at start-up: a
/// change to or from summer time while the program runs is not seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalZone {
    offset_seconds: i64,
}

impl LocalZone {
    /// UTC itself.
    pub const UTC: LocalZone = LocalZone { offset_seconds: 0 };

    /// The system's time zone, or UTC if it cannot be found out.
    pub fn detect() -> LocalZone {
        let output = Command::new("date").arg("+%z").output();
        let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        text.ok()
            .and_then(|text| LocalZone::parse(text.trim()))
            .unwrap_or(LocalZone::UTC)
    }

    /// Reads an offset as `date +%z` prints it: `+0100`, `-0530`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::clock::LocalZone;
    ///
    /// let paris = LocalZone::parse("+0100").unwrap();
    /// assert_eq!(paris.hh_mm(0), "01:00");
    /// assert_eq!(LocalZone::parse("-0530").unwrap().hh_mm(0), "18:30");
    /// assert!(LocalZone::parse("CET").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<LocalZone> {
        let (sign, digits) = match text.split_at_checked(1)? {
            ("+", digits) => (1, digits),
            ("-", digits) => (-1, digits),
            _ => return None,
        };
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i64 = digits[..2].parse().ok()?;
        let minutes: i64 = digits[2..].parse().ok()?;
        Some(LocalZone {
            offset_seconds: sign * (hours * 3600 + minutes * 60),
        })
    }

    /// The time of day of `unix_seconds` in this zone, as `HH:MM`.
    pub fn hh_mm(&self, unix_seconds: u64) -> String {
        let local = self.local_seconds(unix_seconds).rem_euclid(86_400);
        format!("{:02}:{:02}", local / 3600, local % 3600 / 60)
    }

    /// When `unix_seconds` was, for someone reading it at `now`: the time
    /// of day (`HH:MM`) if it was the same day in this zone, else the date
    /// too (`YYYY-MM-DD HH:MM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ftpchat::clock::LocalZone;
    ///
    /// let noon = 1_795_262_400; // 2026-11-21 12:00 UTC
    /// assert_eq!(LocalZone::UTC.when(noon, noon + 3600), "12:00");
    /// assert_eq!(LocalZone::UTC.when(noon, noon + 86_400), "2026-11-21 12:00");
    /// ```
    pub fn when(&self, unix_seconds: u64, now: u64) -> String {
        let day = self.local_seconds(unix_seconds).div_euclid(86_400);
        if day == self.local_seconds(now).div_euclid(86_400) {
            return self.hh_mm(unix_seconds);
        }
        let (year, month, day) = civil_from_days(day);
        format!("{year:04}-{month:02}-{day:02} {}", self.hh_mm(unix_seconds))
    }

    /// Seconds since 1970-01-01 00:00 in this zone.
    fn local_seconds(&self, unix_seconds: u64) -> i64 {
        unix_seconds as i64 + self.offset_seconds
    }
}

/// The current time in UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn timestamp() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(since_epoch.as_millis())
}

/// Formats a count of milliseconds since 1970-01-01 as an RFC 3339 UTC time.
///
/// # Examples
///
/// ```
/// use ftpchat::clock::format_utc;
///
/// assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
/// ```
pub fn format_utc(millis: u128) -> String {
    let secs = millis / 1000;
    let days = (secs / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
        millis % 1000
    )
}

/// The Gregorian calendar date of the day `days` after 1970-01-01.
///
/// This is Howard Hinnant's `civil_from_days`: it counts in 400-year eras
/// (which always have the same number of days) and in years that start on
/// 1 March, so that the leap day falls at the end of the year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn time_of_day_and_millis() {
        assert_eq!(format_utc(1_795_267_464_123), "2026-11-21T13:24:24.123Z");
        assert_eq!(format_utc(86_399_999), "1970-01-01T23:59:59.999Z");
    }

    #[test]
    fn consecutive_days_never_skip_or_repeat() {
        let mut previous = civil_from_days(0);
        for days in 1..200_000 {
            let date = civil_from_days(days);
            let next_day = date.2 == previous.2 + 1 && date.1 == previous.1;
            let next_month =
                date.2 == 1 && (date.1 == previous.1 + 1 || (date.1 == 1 && previous.1 == 12));
            assert!(next_day || next_month, "{previous:?} -> {date:?}");
            previous = date;
        }
    }
}
