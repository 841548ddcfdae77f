//! Support for the query API tests and benches: [`fixture`] (a snapshot
//! history with known series), [`http`] (the server on a free port and a
//! raw HTTP/1.1 client), [`corpus`] (generated PromQL queries) and
//! [`compare`] (nodewatch's answer against Prometheus's).

pub mod compare;
pub mod corpus;
pub mod fixture;
pub mod http;
