//! Library tests: msez's modules called directly, without the binary (vectors, properties,
//! fixtures, the error-code catalogue). The CLI's tests are the other test binary, tests/it/.

mod canon_props;
mod errors_doc;
mod mmr_props;
mod mmr_vectors;
mod roundtrip_props;
mod vc_fixtures;
