//! `parquet_examples` (std/tabular.mlp): reads Parquet files (one file, a folder, or span folders) into an
//! Examples artifact, typed and split by a seeded hash. The work is `mlp_std_common::ingest`,
//! shared with the other ingest components; this crate only declares the signature.

use mlp_sdk::*;

struct Ingest;

impl Plugin for Ingest {
    fn describe() -> ComponentInfo {
        mlp_std_common::ingest::signature("parquet_examples", mlp_std_common::ingest::Format::Parquet)
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        mlp_std_common::ingest::run(ctx, mlp_std_common::ingest::Format::Parquet)
    }
}

export!(Ingest);
