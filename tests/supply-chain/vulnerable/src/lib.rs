//! Exists only so the fixture is a valid crate.
