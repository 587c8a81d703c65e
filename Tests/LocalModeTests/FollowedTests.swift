import ScaleTargets
import Synchronization
import Testing

@Suite struct FollowedTests {
    final class Seen: Sendable {
        let values = Mutex<[Int]>([])
    }

    @Test func aWatcherGetsTheValueNowThenTheNewestAndEndsWhenFinished() async throws {
        let followed = Followed(1)
        let seen = Seen()
        let watcher = Task { try await followed.watch { value in seen.values.withLock { $0.append(value) } } }
        while seen.values.withLock({ $0.isEmpty }) { await Task.yield() }
        followed.set(2)
        while seen.values.withLock({ $0.last != 2 }) { await Task.yield() }
        followed.finish()
        try await watcher.value
        #expect(seen.values.withLock { $0 } == [1, 2])
        // A watch that starts after the end sees the last value and returns.
        let late = Seen()
        try await followed.watch { value in late.values.withLock { $0.append(value) } }
        #expect(late.values.withLock { $0 } == [2])
    }
}
