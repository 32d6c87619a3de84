//! What every machine wrapper has: its machine (in a cell with the texts it borrows, see
//! [`crate::texts`]), the requests it makes and the responses it takes; the small machines also
//! take an instruction file's body in pieces.

/// `m()` / `m_mut()`, `request` and `response` of `$ty` over the core's `$machine` (the field
/// `m` is its cell); with `, body`, also `body` (a piece of an instruction file).
macro_rules! machine_common {
    ($ty:ident, $machine:ident) => {
        impl $ty {
            fn m(&self) -> &$machine<'_> {
                self.m.borrow_dependent()
            }

            fn m_mut<T>(&mut self, f: impl for<'x> FnOnce(&mut $machine<'x>) -> T) -> T {
                self.m.with_dependent_mut(|_, m| f(m))
            }

            /// The request `id` (see `shape::request`).
            pub fn request(&self, id: u32) -> $crate::R<$crate::Val> {
                use $crate::fail::Core;
                let id = s3_encryption::object::RequestId::from_raw(id);
                Ok($crate::shape::request(&self.m().request(id).c()?))
            }

            /// The response to `id`: its status and flat headers.
            pub fn response(&mut self, id: u32, status: u16, headers: &[String]) -> $crate::R<()> {
                use $crate::fail::Core;
                let h = $crate::opts::header_pairs(headers)?;
                let id = s3_encryption::object::RequestId::from_raw(id);
                self.m_mut(|m| m.response(id, status, h)).c()
            }
        }
    };
    ($ty:ident, $machine:ident, body) => {
        machine_common!($ty, $machine);

        impl $ty {
            /// A piece of the instruction file's body.
            pub fn body(&mut self, id: u32, piece: &[u8]) -> $crate::R<()> {
                use $crate::fail::Core;
                let id = s3_encryption::object::RequestId::from_raw(id);
                self.m_mut(|m| m.body(id, piece)).c()
            }
        }
    };
}
