//! Helpers of the server-backed tests beyond the crate's `testkit`: counting round trips, and
//! migrating a released version-1 schema forward.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

pub(crate) mod migration;
pub(crate) mod round_trips;
