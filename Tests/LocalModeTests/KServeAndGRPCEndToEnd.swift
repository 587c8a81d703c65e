import Testing

/// The `thaw up` end-to-end suites of gRPC, KServe documents, payload logging and mirroring, run
/// one at a time: each starts a whole local cluster, and on a 2-core machine running the rest of
/// the suite beside them all at once starved older timing-sensitive tests.
@Suite(.serialized) enum KServeAndGRPCEndToEnd {}
