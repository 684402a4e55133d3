//! `migsafe verify`: each migration's down-path proven on a real PostgreSQL (being written).

pub mod digest;
pub mod receipts;
pub mod seed;
