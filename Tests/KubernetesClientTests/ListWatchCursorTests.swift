import KubernetesClient
import Testing

/// The LIST/WATCH rules with no server: resume points, relist on 410, backoff.
@Suite struct ListWatchCursorTests {
    @Test func listThenWatchFromTheNewestVersionSeen() {
        var cursor = ListWatchCursor(jitter: { 0 })
        #expect(cursor.resume == .list)
        #expect(cursor.listed(resourceVersion: "100") == .watch(from: "100"))
        cursor.saw(resourceVersion: "105")
        cursor.saw(resourceVersion: "140")  // a bookmark
        // The server ends a watch on its timeout: resume after the last thing seen, no list.
        #expect(cursor.watchEnded() == .watch(from: "140"))
    }

    @Test func goneMeansListAgainAtOnce() {
        var cursor = ListWatchCursor(jitter: { 0 })
        _ = cursor.listed(resourceVersion: "100")
        #expect(cursor.failed(status: 410) == .list)
        #expect(cursor.resourceVersion == nil)
        #expect(cursor.resume == .list)
        #expect(cursor.failures == 0, "a compacted version is not a failure to back off from")
    }

    @Test func failuresBackOffDoublingUpToTheCapAndASuccessResetsThem() {
        var cursor = ListWatchCursor(firstBackoff: .milliseconds(500), maxBackoff: .seconds(4), jitter: { 0 })
        _ = cursor.listed(resourceVersion: "7")
        let waits = (0..<6).map { _ in cursor.failed(status: 500) }
        #expect(waits == [.wait(.milliseconds(500)), .wait(.seconds(1)), .wait(.seconds(2)), .wait(.seconds(4)), .wait(.seconds(4)), .wait(.seconds(4))])
        // Still resumes where it was: failures do not lose the version.
        #expect(cursor.resume == .watch(from: "7"))
        cursor.saw(resourceVersion: "8")
        #expect(cursor.failed(status: nil) == .wait(.milliseconds(500)))
    }

    @Test func jitterAddsUpToOneBackoffMore() {
        var cursor = ListWatchCursor(firstBackoff: .seconds(1), maxBackoff: .seconds(30), jitter: { 0.5 })
        #expect(cursor.failed(status: 503) == .wait(.milliseconds(1500)))
        var wild = ListWatchCursor(firstBackoff: .seconds(1), maxBackoff: .seconds(30), jitter: { 7 })
        guard case .wait(let wait) = wild.failed(status: 503) else { Issue.record("not a wait"); return }
        #expect(wait < .seconds(2), "a jitter source out of range never doubles the wait")
    }

    @Test func tooManyRequestsWaitsWhatTheServerSaidWithoutCountingAFailure() {
        var cursor = ListWatchCursor(firstBackoff: .milliseconds(500), maxBackoff: .seconds(4), jitter: { 0.5 })
        _ = cursor.listed(resourceVersion: "7")
        #expect(cursor.failed(status: 429, retryAfter: .seconds(10)) == .wait(.milliseconds(10_500)),
                "the server's 10 s, past the 4 s cap, with a twentieth of jitter on top")
        #expect(cursor.failures == 0)
        #expect(cursor.failed(status: 500) == .wait(.milliseconds(750)), "the next failure still starts at the first backoff")
        #expect(cursor.resume == .watch(from: "7"))
    }
}
