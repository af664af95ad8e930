/*!
File and language formats read without an engine: GGUF model headers (`gguf`: checked before
llama.cpp maps a file) and SQL dialects (`dialect`: other dialects' SQL turned into DuckDB's,
and the read-only check for SQL a model wrote).
*/

pub mod dialect;
pub mod gguf;
