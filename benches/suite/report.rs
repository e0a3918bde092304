//! Results: the median and range of each measurement, and the table the
//! suite prints at the end.

/// Median, minimum and maximum of some samples.
#[derive(Clone, Copy)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Stats {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The percentile `p` (0 to 100) of `values`, which must be sorted.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[index]
}

#[derive(Default)]
pub struct Report {
    rows: Vec<(String, String, Stats, String)>,
}

impl Report {
    pub fn add(&mut self, workload: &str, metric: &str, samples: &[f64], note: String) {
        let stats = Stats::of(samples);
        println!(
            "  {metric}: {} [{}-{}] {note}",
            number(stats.median),
            number(stats.min),
            number(stats.max)
        );
        self.rows
            .push((workload.to_string(), metric.to_string(), stats, note));
    }

    pub fn print(&self) {
        println!();
        println!("| workload | metric | median | min-max | notes |");
        println!("|---|---|---:|---:|---|");
        for (workload, metric, stats, note) in &self.rows {
            println!(
                "| {workload} | {metric} | {} | {}-{} | {note} |",
                number(stats.median),
                number(stats.min),
                number(stats.max)
            );
        }
    }
}

/// A number with sensible precision for a table.
pub fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

pub fn megabytes_per_second(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}
