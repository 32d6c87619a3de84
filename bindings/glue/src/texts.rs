//! The texts a machine borrows (bucket, key, version, suffixes, content type, encryption context,
//! metadata), owned by the machine's JavaScript object and freed with it.
//!
//! The core's machines borrow their intent's strings for their whole life, and a wasm-bindgen
//! class cannot hold a borrow. Each class therefore owns a [`TextCell`]: the strings, plus the
//! `(&str, &str)` views of its pair lists that the core's intents take, and builds its machine
//! inside a cell that borrows them (`self_cell`, so no `unsafe` here and no string outlives its
//! object: nothing is interned or leaked).

use s3_encryption::object::{
    DeleteObject, DescribeObject, GetObject, PutObject, RotateInstructionFile,
};

/// The owned strings of one machine.
#[derive(Debug, Default)]
pub(crate) struct Texts {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Version id.
    pub version_id: Option<String>,
    /// The instruction-file suffix (the source suffix of a rotation).
    pub suffix: String,
    /// A second suffix (a rotation's new suffix).
    pub new_suffix: String,
    /// Content type.
    pub content_type: Option<String>,
    /// The encryption context (`None`: accept the stored one).
    pub context: Option<Vec<(String, String)>>,
    /// User metadata.
    pub metadata: Vec<(String, String)>,
}

impl Texts {
    /// Texts with `suffix` (and `new_suffix`) set to the default `.instruction`.
    pub(crate) fn new(bucket: String, key: String) -> Self {
        Texts {
            bucket,
            key,
            suffix: ".instruction".into(),
            new_suffix: ".instruction".into(),
            ..Texts::default()
        }
    }
}

/// Borrowed views of a [`Texts`]' pair lists, in the shape the core's intents take.
#[derive(Debug)]
pub(crate) struct Views<'a> {
    /// The encryption context.
    pub context: Option<Vec<(&'a str, &'a str)>>,
    /// User metadata.
    pub metadata: Vec<(&'a str, &'a str)>,
}

fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn views(t: &Texts) -> Views<'_> {
    Views {
        context: t.context.as_deref().map(borrow),
        metadata: borrow(&t.metadata),
    }
}

self_cell::self_cell!(
    /// [`Texts`] with their [`Views`].
    pub(crate) struct TextCell {
        owner: Texts,
        #[covariant]
        dependent: Views,
    }
    impl {Debug}
);

impl TextCell {
    /// The cell of `t`.
    pub(crate) fn of(t: Texts) -> Self {
        TextCell::new(t, views)
    }
    /// The strings.
    pub(crate) fn texts(&self) -> &Texts {
        self.borrow_owner()
    }
    /// The encryption context as the core takes it.
    pub(crate) fn context(&self) -> Option<&[(&str, &str)]> {
        self.borrow_dependent().context.as_deref()
    }
    /// The metadata as the core takes it.
    pub(crate) fn metadata(&self) -> &[(&str, &str)] {
        &self.borrow_dependent().metadata
    }
}

self_cell::self_cell!(
    /// A [`GetObject`] and the texts it borrows.
    pub(crate) struct GetCell {
        owner: TextCell,
        #[covariant]
        dependent: GetObject,
    }
    impl {Debug}
);

self_cell::self_cell!(
    /// A [`PutObject`] and the texts it borrows.
    pub(crate) struct PutCell {
        owner: TextCell,
        #[covariant]
        dependent: PutObject,
    }
    impl {Debug}
);

self_cell::self_cell!(
    /// A [`DescribeObject`] and the texts it borrows.
    pub(crate) struct DescribeCell {
        owner: TextCell,
        #[covariant]
        dependent: DescribeObject,
    }
    impl {Debug}
);

self_cell::self_cell!(
    /// A [`DeleteObject`] and the texts it borrows.
    pub(crate) struct DeleteCell {
        owner: TextCell,
        #[covariant]
        dependent: DeleteObject,
    }
    impl {Debug}
);

self_cell::self_cell!(
    /// A [`RotateInstructionFile`] and the texts it borrows.
    pub(crate) struct RotateCell {
        owner: TextCell,
        #[covariant]
        dependent: RotateInstructionFile,
    }
    impl {Debug}
);
