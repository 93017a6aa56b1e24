//! A strategy: one executor on one task type (the record itself is a model type, shown by
//! front ends; process memory keeps and samples it).

pub use crate::model::{Outcome, PRIOR, Strategy, cost_adjusted, strategy_key};
