//! Supply-chain audits of pinned sdists, in cargo-vet's model and words:
//! criteria (`safe-to-run`, `safe-to-deploy`, custom ones with `implies`),
//! audits of a whole version or of a delta between two versions, each tied
//! to the sdist's sha256; violations; exemptions; a policy per
//! application; audits imported from other organisations. And what a
//! reviewer reads: the unified diff of two unpacked sdists, with a summary
//! of what runs at build or install time and what must not be missed.
//!
//! Rule: no network and no processes. The store and the decision take
//! text and return values; the diff reads two unpacked trees.

pub mod criteria;
pub mod diff;
pub mod render;
pub mod resolve;
pub mod store;
pub mod summary;
#[cfg(test)]
mod test_trees;
pub mod tree;

pub use criteria::{Criteria, CriterionDef, CriterionOrigin, SAFE_TO_DEPLOY, SAFE_TO_RUN};
pub use render::{render_audits, render_imports_lock};
pub use resolve::{
    decide, pins, warnings, Consumer, Evidence, EvidenceKind, Missing, Node, Origin, Pin, Tally,
    Verdict, Vetted, VettedClass, Vetting, Violated,
};
pub use store::{
    add_audit, parse_audits, parse_config, parse_imports_lock, AddAuditError, AuditEntry,
    AuditKind, AuditsFile, Exemption, Import, ImportSource, ImportsLock, LockedImport, Policy,
    Sourced, Store, StoreError, VetConfig,
};
