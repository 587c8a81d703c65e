import Foundation

/// Polls `condition` until it holds. Tests wait on other processes this way rather than sleeping a
/// guessed time, so a slow machine makes a test slower, never wrong.
/// - Throws: `TestFailure` naming `what` once `timeout` seconds pass.
public func waitUntil(_ what: String, timeout: Double = 10, every interval: Duration = .milliseconds(20),
                      _ condition: () async throws -> Bool) async throws {
    let end = Date().addingTimeInterval(timeout)
    while try await !condition() {
        guard Date() < end else { throw TestFailure("timed out after \(timeout) s waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

/// A fresh directory under the system's temporary directory (`thaw-<purpose>-<uuid>`), for files a
/// test writes; the caller removes it.
public func scratchDirectory(_ purpose: String = "test") throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-\(purpose)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Runs a blocking call (a socket read, a child process, libcurl) on a thread of its own, not on the
/// concurrency pool: on a 2-core machine the pool has two threads, and a test that blocks them stalls
/// every other test's servers in this process.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        // A thread of its own, not Dispatch's global queue: on Linux that has about one worker per
        // core, and a few calls blocked for long (a request waiting at zero) held them all, so the
        // test's kubelet, also run here, could not start the pod those requests waited for.
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
