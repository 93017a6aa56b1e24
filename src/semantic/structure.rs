//! Structure with tree-sitter (placeholder: filled in by the structure work).
