//! Prometheus metrics. Counters and histograms are process-wide statics
//! updated where things happen; gauges about the outbox are read from the
//! store at scrape time, so they are right even with several daemons.

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration only fails on duplicate names, which would be a programming error.
    REGISTRY
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

/// Sends by result (`sent`, `retry`, `failed`, `bounced`, `cancelled`, …) and campaign.
pub static SENDS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("tend_sends_total", "Send attempts by result and campaign"),
            &["result", "campaign"],
        )
        .expect("valid metric"),
    )
});

/// Time for one SMTP transaction, by outcome.
pub static SMTP_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("tend_smtp_seconds", "SMTP transaction latency").buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["outcome"],
        )
        .expect("valid metric"),
    )
});

/// Seconds spent waiting for the global or per-domain rate limit.
pub static RATE_LIMIT_WAIT_SECONDS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_rate_limit_wait_milliseconds_total",
                "Time spent waiting for rate limits",
            ),
            &["limit"],
        )
        .expect("valid metric"),
    )
});

/// Rounds in which a cap (warm-up) held sends back.
pub static CAP_WAITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("tend_cap_waits_total", "Rounds held back by a sending cap"),
            &["cap"],
        )
        .expect("valid metric"),
    )
});

pub static RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("tend_reloads_total", "Catalog reloads by result"),
            &["result"],
        )
        .expect("valid metric"),
    )
});

pub static TICKS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(IntCounter::new("tend_ticks_total", "Planner ticks").expect("valid metric"))
});

/// Outbox rows by state, refreshed at scrape time.
pub static OUTBOX: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(Opts::new("tend_outbox", "Outbox rows by state"), &["state"])
            .expect("valid metric"),
    )
});

pub static IN_DOUBT: LazyLock<Gauge> = LazyLock::new(|| {
    register(
        Gauge::new(
            "tend_in_doubt",
            "Sends whose delivery is unknown (not resent)",
        )
        .expect("valid metric"),
    )
});

pub static LAST_TICK_AGE: LazyLock<Gauge> = LazyLock::new(|| {
    register(
        Gauge::new(
            "tend_last_tick_age_seconds",
            "Seconds since the last planner tick",
        )
        .expect("valid metric"),
    )
});

/// 1 while the relay's circuit breaker is open (sending paused).
pub static RELAY_BREAKER_OPEN: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "tend_relay_breaker_open",
            "1 while the relay's circuit breaker is open and sending is paused",
        )
        .expect("valid metric"),
    )
});

pub static RELAY_BREAKER_TRIPS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "tend_relay_breaker_trips_total",
            "Times the relay's circuit breaker opened",
        )
        .expect("valid metric"),
    )
});

/// SMTP answers that were not acceptances, by classified verdict.
pub static SMTP_REFUSALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_smtp_failures_total",
                "SMTP failures by verdict (hard_bounce, soft_bounce, deferred, refused)",
            ),
            &["verdict"],
        )
        .expect("valid metric"),
    )
});

/// Rows held back at the moment they would have left, by reason.
pub static HELD: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_held_total",
                "Sends held back when about to leave (window, quiet hours, cap, paused relay or domain)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

/// What came back per campaign and kind, read fresh from the store (so it
/// survives restarts and counts every daemon's intake).
pub static INBOUND_KEPT: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(
            Opts::new(
                "tend_inbound_messages",
                "Inbound messages and webhook events kept (undone ones left out), by campaign (empty: not tied to one) and kind",
            ),
            &["campaign", "kind"],
        )
        .expect("valid metric"),
    )
});

/// Inbound messages and webhook events kept by this process, by kind.
pub static INBOUND: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_inbound_total",
                "Inbound messages and webhook events by kind (hard_bounce, soft_bounce, complaint, auto_reply, reply, unsubscribe, unclassified…)",
            ),
            &["kind"],
        )
        .expect("valid metric"),
    )
});

/// Requests the listener refused with 429, by budget.
pub static HTTP_LIMITED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_http_rate_limited_total",
                "Requests answered 429 because one client used up a budget (links, events, sign_in, other)",
            ),
            &["kind"],
        )
        .expect("valid metric"),
    )
});

/// Connections the listener closed at once: too many open, in all or from one client.
pub static HTTP_REFUSED_CONNECTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "tend_http_refused_connections_total",
                "Connections closed on arrival (reason: total, per_client)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

/// Touches every metric so each appears in the output even before it moves.
pub fn init() {
    LazyLock::force(&SENDS);
    LazyLock::force(&SMTP_SECONDS);
    LazyLock::force(&RATE_LIMIT_WAIT_SECONDS);
    LazyLock::force(&CAP_WAITS);
    for result in ["ok", "failed"] {
        RELOADS.with_label_values(&[result]);
    }
    LazyLock::force(&TICKS);
    LazyLock::force(&OUTBOX);
    LazyLock::force(&IN_DOUBT);
    LazyLock::force(&LAST_TICK_AGE);
    LazyLock::force(&RELAY_BREAKER_OPEN);
    LazyLock::force(&RELAY_BREAKER_TRIPS);
    LazyLock::force(&SMTP_REFUSALS);
    LazyLock::force(&HELD);
    LazyLock::force(&INBOUND);
    LazyLock::force(&INBOUND_KEPT);
    for kind in ["links", "events", "sign_in", "other"] {
        HTTP_LIMITED.with_label_values(&[kind]);
    }
    for reason in ["total", "per_client"] {
        HTTP_REFUSED_CONNECTIONS.with_label_values(&[reason]);
    }
}

/// The text exposition format.
pub fn render() -> String {
    let mut out = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&REGISTRY.gather(), &mut out) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}
