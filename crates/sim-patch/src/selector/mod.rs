//! Label and field selectors, as sent in `labelSelector=` / `fieldSelector=`
//! query parameters and as stored in `metav1.LabelSelector` objects. An empty
//! selector matches everything. Pure parsing and matching; never I/O.

mod field;
mod label;

pub use field::{FieldRequirement, FieldSelector};
pub use label::{LabelSelector, Operator, Requirement};
