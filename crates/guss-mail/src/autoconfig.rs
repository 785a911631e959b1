//! Client autoconfiguration.
