//! Two-proportion statistics for pilot reports: Wilson score intervals for
//! each group and Newcombe's hybrid score interval (method 10) for the
//! difference — well behaved for small groups and rates near 0 or 1, where
//! the textbook Wald interval is not.

/// The 97.5th percentile of the standard normal: two-sided 95 %.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A proportion with its Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rate {
    pub successes: u64,
    pub trials: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

pub fn wilson(successes: u64, trials: u64, z: f64) -> Rate {
    if trials == 0 {
        return Rate {
            successes,
            trials,
            rate: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Rate {
        successes,
        trials,
        rate: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    }
}

/// The difference `a − b` of two independent proportions with Newcombe's
/// hybrid score interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Difference {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

pub fn newcombe(a: &Rate, b: &Rate) -> Difference {
    let d = a.rate - b.rate;
    Difference {
        estimate: d,
        low: d - ((a.rate - a.low).powi(2) + (b.high - b.rate).powi(2)).sqrt(),
        high: d + ((a.high - a.rate).powi(2) + (b.rate - b.low).powi(2)).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-6
    }

    // Reference values computed with Python statsmodels (pip install statsmodels):
    //   proportion_confint(56, 70, method="wilson")   -> (0.6918336, 0.8769526)
    //   proportion_confint(0, 10, method="wilson")    -> (0.0, 0.2775328)
    //   confint_proportions_2indep(56, 70, 48, 80, method="newcomb", compare="diff")
    //                                                 -> (0.0524315, 0.3338727)
    // The last is example (a) of Newcombe (1998), Statistics in Medicine 17:873-890.
    #[test]
    fn wilson_matches_the_reference() {
        let r = wilson(56, 70, Z95);
        assert!(
            close(r.low, 0.691_833_6) && close(r.high, 0.876_952_6),
            "{r:?}"
        );
        let zero = wilson(0, 10, Z95);
        assert!(
            close(zero.low, 0.0) && close(zero.high, 0.277_532_8),
            "{zero:?}"
        );
    }

    #[test]
    fn newcombe_matches_the_reference() {
        let d = newcombe(&wilson(56, 70, Z95), &wilson(48, 80, Z95));
        assert!(close(d.estimate, 0.2), "{d:?}");
        assert!(
            close(d.low, 0.052_431_5) && close(d.high, 0.333_872_7),
            "{d:?}"
        );
    }

    #[test]
    fn empty_groups_do_not_divide_by_zero() {
        let d = newcombe(&wilson(0, 0, Z95), &wilson(3, 10, Z95));
        assert!(d.low.is_finite() && d.high.is_finite());
    }
}
