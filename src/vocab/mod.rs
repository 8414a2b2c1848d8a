//! The vocabulary every layer shares: the setting names and the payload field table (`names`) and
//! where a value came from (`source`). It is the bottom layer: everything may import it, and it
//! imports nothing of customcd's, so a word added here can never pull a circle into the graph.
//!
//! Layer: vocabulary (see tests/integration/layers.rs). May import: nothing.

pub mod names;
pub mod source;
