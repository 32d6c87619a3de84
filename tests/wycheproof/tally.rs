//! Per-algorithm accounting: every Wycheproof case is either run (and passes or fails) or not
//! applicable with a named reason; nothing is dropped silently.

use std::collections::BTreeMap;

/// The counts of one algorithm.
pub struct Tally {
    name: &'static str,
    total: usize,
    run: usize,
    /// Outcome classes of the cases run (what was expected of them).
    outcomes: BTreeMap<String, usize>,
    failures: Vec<String>,
    /// Reason → case ids (`file#tcId`).
    not_applicable: BTreeMap<&'static str, Vec<String>>,
}

impl Tally {
    /// An empty tally for `name`.
    pub fn new(name: &'static str) -> Self {
        Tally {
            name,
            total: 0,
            run: 0,
            outcomes: BTreeMap::new(),
            failures: Vec::new(),
            not_applicable: BTreeMap::new(),
        }
    }

    /// Case `id` cannot be expressed through our API, for `reason`.
    pub fn not_applicable(&mut self, reason: &'static str, id: String) {
        self.total += 1;
        self.not_applicable.entry(reason).or_default().push(id);
    }

    /// Case `id` was run, expecting `outcome`; `result` is `Err(why)` if it did not behave so.
    pub fn ran(&mut self, id: String, outcome: &str, result: Result<(), String>) {
        self.total += 1;
        self.run += 1;
        *self.outcomes.entry(outcome.to_owned()).or_default() += 1;
        if let Err(why) = result {
            self.failures.push(format!("{id} ({outcome}): {why}"));
        }
    }

    /// Add `other`'s counts (a part of the same algorithm run on another thread).
    pub fn merge(&mut self, other: Tally) {
        self.total += other.total;
        self.run += other.run;
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        self.failures.extend(other.failures);
        for (k, ids) in other.not_applicable {
            self.not_applicable.entry(k).or_default().extend(ids);
        }
    }

    /// Run `f` on every item of `items` on its own thread (RSA private-key operations dominate the
    /// binary's time), each into a tally of its own, merged in order; returns the merged tally and
    /// the sum of what `f` returned (the cases in the files).
    pub fn par<T: Sync>(
        name: &'static str,
        items: &[T],
        f: impl Fn(&T, &mut Tally) -> usize + Sync,
    ) -> (Tally, usize) {
        let parts: Vec<(Tally, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = items
                .iter()
                .map(|item| {
                    let f = &f;
                    s.spawn(move || {
                        let mut t = Tally::new(name);
                        let n = f(item, &mut t);
                        (t, n)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut tally = Tally::new(name);
        let mut total = 0;
        for (t, n) in parts {
            tally.merge(t);
            total += n;
        }
        (tally, total)
    }

    /// Print the counts; panic if a case failed, if the counts do not add up to `expected_total`
    /// (the number of cases the vector files hold), or if fewer than `min_run` cases ran.
    pub fn finish(self, expected_total: usize, min_run: usize) {
        let passed = self.run - self.failures.len();
        let na: usize = self.not_applicable.values().map(Vec::len).sum();
        println!(
            "\n== Wycheproof {}: total {}, run {}, passed {}, not applicable {}",
            self.name, self.total, self.run, passed, na
        );
        for (outcome, n) in &self.outcomes {
            println!("   run     {n:>4}  {outcome}");
        }
        for (reason, ids) in &self.not_applicable {
            println!("   n/a     {:>4}  {reason}: {}", ids.len(), compact(ids));
        }
        for f in &self.failures {
            println!("   FAILED  {f}");
        }
        assert!(
            self.failures.is_empty(),
            "Wycheproof {}: {} of {} cases failed:\n{}",
            self.name,
            self.failures.len(),
            self.run,
            self.failures.join("\n")
        );
        assert_eq!(
            self.total, expected_total,
            "Wycheproof {}: cases seen vs cases in the files",
            self.name
        );
        assert!(
            self.run >= min_run,
            "Wycheproof {}: only {} cases ran (at least {min_run} expected)",
            self.name,
            self.run
        );
    }
}

/// `file#1 file#2 file#3 other#7` as `file#1-3 other#7`.
fn compact(ids: &[String]) -> String {
    let mut runs: Vec<(&str, usize, usize)> = Vec::new();
    for id in ids {
        let (file, n) = id.rsplit_once('#').expect("file#tcId");
        let n: usize = n.parse().expect("tcId");
        match runs.last_mut() {
            Some((f, _, hi)) if *f == file && *hi + 1 == n => *hi = n,
            _ => runs.push((file, n, n)),
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut last = "";
    for (file, lo, hi) in runs {
        let range = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}-{hi}")
        };
        if file == last {
            out.last_mut()
                .expect("a file")
                .push_str(&format!(",{range}"));
        } else {
            out.push(format!("{file}#{range}"));
            last = file;
        }
    }
    out.join(" ")
}

/// `Ok(())` if `cond`, else `Err(why)`.
pub fn check(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}
