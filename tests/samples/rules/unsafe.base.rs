#![forbid(unsafe_code)]
//! FFI helpers.

pub struct Handle(*mut u8);
