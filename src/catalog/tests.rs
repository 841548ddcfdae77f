//! Catalog tests.
use super::*;
