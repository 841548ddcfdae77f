//! Event ingestion tests.
use super::*;
