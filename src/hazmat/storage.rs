//! Unverified plaintext into the caller's private storage: the GET machine's single-pass storage
//! read ([`crate::object::GetIntent::unverified_plaintext_storage`]).

/// The caller's promise that makes the GET machine decrypt a GCM body **into the caller's
/// storage as it arrives**, before the object's tag is checked, instead of storing ciphertext and
/// decrypting it in a second pass. Made only by [`unverified_plaintext_storage`].
///
/// With it, [`crate::object::Released::Store`] pieces are plaintext that is **not yet
/// authenticated**. The caller promises that:
///
/// * no reader can open the storage while the read runs: it has no name anywhere (Linux
///   `O_TMPFILE`, an unlinked file) or is otherwise private to the caller, and is not mapped or
///   shared;
/// * it exposes the storage (links the file into place, hands it on) only after
///   [`crate::object::GetNext::Done`], which the machine returns only after the whole object's tag
///   verified and its length matched, with [`crate::object::Verification::DecryptedInStorage`];
/// * on any error (a failed tag, a short or long body, a changed object, a dropped read) it
///   discards the storage unread.
///
/// The core cannot check any of this, so it is hazmat: a caller that names the storage before
/// `Done` releases unauthenticated plaintext. It is not tied to a [`crate::DecryptPolicy`] flag
/// because, kept, the promise releases nothing to a reader: the bytes a reader can ever see are
/// the ones the tag verified. Objects the mode does not cover (legacy CBC, which has no tag, and
/// objects within the memory budget) are read as before, and say so in their `Verification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnverifiedPlaintextStorage(());

/// **Hazmat.** See [`UnverifiedPlaintextStorage`]: the promise that the caller's storage is
/// unreadable by anyone until the machine says `Done`, and discarded otherwise.
pub const fn unverified_plaintext_storage() -> UnverifiedPlaintextStorage {
    UnverifiedPlaintextStorage(())
}
