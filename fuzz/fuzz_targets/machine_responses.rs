//! Every object machine driven against a store whose answers come from the fuzz input: a real
//! object (V3 in metadata, V3 with an instruction file, V2, an empty V3 object) encrypted under
//! the fixed master key, answered faithfully unless the input says otherwise, and then changed:
//! status codes, any header replaced, dropped, duplicated, added or made huge (ETag,
//! Content-Length, Content-Range, version id, `x-amz-meta-*`), bodies truncated, extended,
//! flipped, replaced or endless, instruction files rewritten.
//!
//! Properties:
//! * no panic, and the machine never returns `Error::Internal` (a broken invariant) nor
//!   `Error::ApiMisuse` (the driver follows the protocol exactly);
//! * a verified GET never releases a byte that differs from the real plaintext at its offset, and
//!   releases nothing at all when it fails with `Error::Authentication`; a finished delayed read
//!   (or one into unverified storage) released exactly the real plaintext;
//! * a ranged read releases only offsets inside the range asked for;
//! * a GET never accepts body bytes past the length it asked for, and the piece sizes it asks
//!   for stay under its caps (memory budget, 1 MiB chunk, instruction-file cap) whatever
//!   Content-Length says; the machine never waits with nothing outstanding;
//! * a finished PUT stored an object that decrypts to the plaintext; a failed multipart upload
//!   that was created is aborted;
//! * a finished rotation wrote an instruction file that opens under the new key to the old data
//!   key; a faithful store is always answered with success.
#![no_main]

mod machines;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use machines::{Fixture, fixtures};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let which = u.int_in_range(0u8..=7).unwrap_or(0);
    let fx: &Fixture = &fixtures()[u.int_in_range(0usize..=fixtures().len() - 1).unwrap_or(0)];
    match which {
        0..=3 => machines::get::run(&mut u, fx, which),
        4 => machines::put::run(&mut u),
        5 => machines::others::describe(&mut u, fx),
        6 => machines::others::delete(&mut u, fx),
        _ => machines::others::rotate(&mut u, fx),
    }
});
