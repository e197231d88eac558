//! Starts the Coldlink desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    coldlink_desktop::run();
}
