import Synchronization

/// Cuts one waiter's sleep short when something changed: the local driver's supervisor sleeps
/// between looks at its processes, and a scale request must not wait out that sleep.
///
/// A change signalled while nobody waits is kept until `take()`, so a change that lands between the
/// supervisor reading its inputs and going to sleep is never lost.
final class ChangeSignal: Sendable {
    private struct State {
        var changed = false
        var waiter: AsyncStream<Void>.Continuation?
    }

    private let state = Mutex(State())

    func signal() {
        state.withLock { state in
            state.changed = true
            state.waiter?.yield()
        }
    }

    /// Whether a change was signalled since the last call; read the inputs after this.
    func take() -> Bool {
        state.withLock { state in
            defer { state.changed = false }
            return state.changed
        }
    }

    /// Returns after `duration`, or as soon as a change is signalled (at once if one already was).
    func wait(upTo duration: Duration) async {
        let (wake, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let pending = state.withLock { state in
            if !state.changed { state.waiter = continuation }
            return state.changed
        }
        guard !pending else { return }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try? await Task.sleep(for: duration)
                continuation.finish()
            }
            for await _ in wake { break }
            tasks.cancelAll()
        }
        state.withLock { $0.waiter = nil }
    }
}
