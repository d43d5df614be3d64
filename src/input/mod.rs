//! Reading input: opening files and stdin, gzip, and cutting what is read into blocks of lines.

pub mod framing;
