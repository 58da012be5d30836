//! aidlink relay: see the module map below as modules land.
