//! Risk rules (placeholder: filled in by the rules work).
