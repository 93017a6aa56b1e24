//! FFI helpers.

pub struct Handle(*mut u8);

pub unsafe fn read_raw(p: *const u8) -> u8 {
    unsafe { *p }
}

// An unsafe block would be needed here.
/* unsafe { nothing } */
const DOC: &str = "unsafe { in a string }";
#[allow(unsafe_op_in_unsafe_fn)]
fn unsafe_name_is_fine() {}

unsafe impl Send for Handle {}

unsafe extern "C" {
    fn abs(x: i32) -> i32;
}

#[unsafe(no_mangle)]
pub extern "C" fn exported() {}
