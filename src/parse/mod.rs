//! Reading a block of input: its lines and documents cut into units, each record read into the
//! facts the detector needs. Stateless, so any number of threads parse at once.

pub mod addresses;
pub mod block;
pub mod event_time;
pub mod issuer;
pub mod json_error;
pub mod limits;
pub mod lookup_events;
pub mod record;
pub mod session_key;
pub mod shape;
pub mod source_address;
