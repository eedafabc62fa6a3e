//! tend's integration tests: the real binary, real SQLite files, and a real
//! SMTP server (aiosmtpd, `tests/support/smtp_server.py`) on 127.0.0.1; for
//! what comes back, a throwaway Postfix and Dovecot (`postfix.rs`, `dovecot.rs`).
//! Time is always injected with `--now`; no test waits on the wall clock
//! for scheduling.

mod audit;
mod bounces;
mod calendar;
mod came_back;
mod check;
mod console;
mod crash;
mod daemon;
mod delivery;
mod dovecot;
mod faults;
mod helpers;
mod imap;
mod import;
mod inbound;
mod inbound_cli;
mod inbound_webhooks;
mod journeys;
mod listener;
mod operations;
mod pg;
mod pilot;
mod postfix;
mod privacy;
mod production;
mod receiver;
mod relay;
mod robust;
mod segments;
mod sequences;
mod shared;
mod smtp;
mod store;
mod store_console;
mod store_inbound;
mod store_privacy;
mod store_reads;
mod tools;
mod transport;
mod unsubscribe;
mod variation;
mod voice;
mod webhooks;
