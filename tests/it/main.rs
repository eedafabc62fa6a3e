//! tend's integration tests: the real binary, real SQLite files, and a real
//! SMTP server (aiosmtpd, `tests/support/smtp_server.py`) on 127.0.0.1.
//! Time is always injected with `--now`; no test waits on the wall clock
//! for scheduling.

mod calendar;
mod check;
mod crash;
mod daemon;
mod delivery;
mod faults;
mod helpers;
mod import;
mod inbound;
mod journeys;
mod operations;
mod pg;
mod pilot;
mod production;
mod relay;
mod robust;
mod segments;
mod sequences;
mod shared;
mod smtp;
mod store;
mod store_reads;
mod transport;
mod unsubscribe;
mod variation;
mod voice;
mod webhooks;
