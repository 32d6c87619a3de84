//! The JavaScript glue (`bindings/glue`, shared by the wasm and the Node-API engines of the npm
//! package) driven the way a buggy or hostile JavaScript host could drive it. Everything the glue
//! takes is caller input: the option objects (`Val`), the calls and their order, the responses,
//! the bodies and their request ids, and the answers of keyrings written in JavaScript.
//!
//! The input is decoded as structure (`arbitrary`), not as one JSON text: options are built from
//! the names the glue reads, with well-typed or ill-typed values, so the fuzzer spends its time in
//! the machines rather than rediscovering `"commitmentPolicy"`; one input in four instead takes
//! its options from a JSON text in the input through `Val`'s `Deserialize` (the path of JSON
//! configurations), or from an arbitrary `Val` tree. Then each step is either the call the
//! machine asked for, answered by the store of `machine_responses` (real objects, faithful
//! answers the input may change), or any other call with any arguments. An input that runs out
//! of bytes follows the protocol faithfully to the end.
//!
//! Properties (see `host/mod.rs` for the error rules):
//! * no panic, and every failure is a `Fail` with one of the documented classes;
//! * class `internal` (code `ApiMisuse`, or `Internal` with the glue's own out-of-order message)
//!   only after the host made a call the machine did not ask for; never a core `Internal`;
//! * a machine whose state-changing call failed stays failed: the next `poll` of a GET,
//!   Describe, Delete or rotation fails, and a PUT never reaches `done`;
//! * a verified GET releases no byte that differs from the plaintext at its offset, whatever the
//!   host did; with faithful answers any mode releases only plaintext, and a verified or delayed
//!   GET that reaches `done` released exactly the plaintext;
//! * with faithful options and answers and a host that follows the protocol, every machine
//!   finishes; a finished PUT stored an object that decrypts to the plaintext, a finished
//!   rotation wrote a file that opens under the new key to the object's data key;
//! * the envelope functions (`Env`) decrypt the real body to the real plaintext, and a ranged
//!   hazmat decryption of it to the slice asked for.
#![no_main]

#[allow(dead_code)]
mod machines;

mod host;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use machines::fixtures;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let which = u.int_in_range(0u8..=5).unwrap_or(0);
    let fx = &fixtures()[u.int_in_range(0usize..=fixtures().len() - 1).unwrap_or(0)];
    match which {
        0 => host::get::run(&mut u, fx),
        1 => host::put::run(&mut u),
        2 => host::others::rotate(&mut u, fx),
        3 => host::others::describe(&mut u, fx),
        4 => host::others::delete(&mut u, fx),
        _ => host::others::envelope(&mut u, fx),
    }
});
