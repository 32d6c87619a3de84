//! **Hazardous materials**: everything that releases, or computes on, plaintext that is not yet
//! (or never) authenticated. Nothing outside this module does.
//!
//! Each entry that releases bytes to a reader is gated by the policy flag the S3EC specification
//! names, checked on the [`Decryptor`] (which carries the policy it was built under), and returns
//! [`Error::LegacyModeDisabled`] without it; the one that only writes into the caller's private
//! storage is gated by the caller's documented promise instead (last row):
//!
//! | entry | releases | gate |
//! |---|---|---|
//! | [`delayed_authentication`] → [`DelayedStream`] | plaintext before the tag is checked; `finish` says whether to keep it | [`DecryptPolicy::delayed_authentication`] (CBC objects: admitted by `legacy_unauthenticated_modes`) |
//! | [`ranged()`] → [`RangedStream`] | a byte range, never authenticated | [`DecryptPolicy::legacy_unauthenticated_modes`] |
//! | [`unverified_segments`] → [`UnverifiedSegments`] | GCM segments decrypted before the combined tag is checked | [`DecryptPolicy::delayed_authentication`] |
//! | [`rechecked_segments`] → [`RecheckedSegments`] | segments of a body pass one already verified, re-checked as they decrypt | a [`ReleasePass`]: the proof that pass one verified |
//! | [`derive_v3`] | the V3 content key itself | — (a function of the data key) |
//! | [`delayed_authentication_read`], [`ranged_read`] → a [`crate::object::GetObject`] read | the same two releases, driven by the GET machine | the same two flags, checked when the machine is made |
//! | [`unverified_plaintext_storage`] → a [`crate::object::GetObject`] storage read | GCM plaintext into the caller's storage before the tag is checked, never to a reader | the caller's promise ([`UnverifiedPlaintextStorage`]): the storage is unnamed until `Done`, discarded on error |
//!
//! Range *planning* ([`crate::ByteRange`], [`crate::RangePlan`]) releases nothing and lives
//! outside; so does the verified threaded decrypt, [`crate::ParallelGcm::decrypt_in_place_threaded`],
//! and the hand-off of a whole-object GCM decrypt to the host's AEAD ([`crate::HostAead`]: the
//! content key only after the checks of a decrypt, V3's key commitment among them, and a release
//! only after the host's AEAD verified the tag; its documentation says why that is not hazmat).
//!
//! [`DecryptPolicy::delayed_authentication`]: crate::DecryptPolicy::delayed_authentication
//! [`DecryptPolicy::legacy_unauthenticated_modes`]: crate::DecryptPolicy::legacy_unauthenticated_modes

use crate::decrypt::{Decryptor, ReleasePass, Stream};
use crate::envelope::ContentAlgorithm;
use crate::error::{Error, Result};
use crate::range::RangePlan;

mod delayed;
mod object_reads;
mod ranged;
mod segments;
mod storage;

pub use crate::key_commitment::derive_v3;
pub use delayed::DelayedStream;
pub(crate) use object_reads::{DelayedRelease, ReadKind, release_range};
pub use object_reads::{UnauthenticatedRead, delayed_authentication_read, ranged_read};
pub use ranged::RangedStream;
pub use segments::{RecheckedSegments, UnverifiedSegments};
pub use storage::{UnverifiedPlaintextStorage, unverified_plaintext_storage};

/// Streaming decryption that releases plaintext **before** the tag is verified (the spec's
/// delayed authentication). The caller must discard everything released if
/// [`DelayedStream::finish`] fails. Requires [`crate::DecryptPolicy::delayed_authentication`]
/// (CBC objects are always unauthenticated and were admitted by `legacy_unauthenticated_modes`).
pub fn delayed_authentication(decryptor: Decryptor) -> Result<DelayedStream> {
    if !decryptor.policy().delayed_authentication
        && decryptor.content_algorithm() != ContentAlgorithm::AesCbc
    {
        return Err(Error::LegacyModeDisabled);
    }
    Ok(DelayedStream(Stream::new(&decryptor)?))
}

/// Unauthenticated ranged read of the bytes that `plan` fetched. Requires
/// [`crate::DecryptPolicy::legacy_unauthenticated_modes`]. V3 objects still had their key
/// commitment checked when the decryptor was built.
pub fn ranged(decryptor: Decryptor, plan: &RangePlan) -> Result<RangedStream> {
    ranged::start(decryptor, plan)
}

/// Segment-wise decryption of a GCM body **before** its combined tag is checked (segments on any
/// threads or machines; [`UnverifiedSegments::verify`] at the end says whether to keep them).
/// Requires [`crate::DecryptPolicy::delayed_authentication`]; GCM content only.
pub fn unverified_segments(decryptor: &Decryptor) -> Result<UnverifiedSegments> {
    if !decryptor.policy().delayed_authentication {
        return Err(Error::LegacyModeDisabled);
    }
    Ok(UnverifiedSegments(decryptor.parallel()?))
}

/// Segment-wise pass two over a body that pass one verified: the [`ReleasePass`] is the proof.
/// Each segment is authenticated and decrypted in one fused pass, and
/// [`RecheckedSegments::verify`] checks that the segments' combined tag is the one pass one
/// verified. The bytes are plaintext of authenticated ciphertext only if that check passes (the
/// storage could have changed them between the passes): discard them if it fails. GCM content
/// only.
pub fn rechecked_segments(pass: &ReleasePass) -> Result<RecheckedSegments> {
    let (decryptor, tag, len) = pass.verified();
    Ok(RecheckedSegments {
        gcm: decryptor.parallel()?,
        tag: *tag,
        len,
    })
}
