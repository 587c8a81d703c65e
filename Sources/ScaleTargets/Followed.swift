import Foundation
import Synchronization

/// A value one component changes while running and others follow: each watcher gets the value
/// now, then every later one (the newest only, if it falls behind). `thaw up` uses it for what an
/// edit of its file changes: the routes the activator follows and the targets the autoscaler decides for.
public final class Followed<Value: Sendable>: Sendable {
    private struct State {
        var value: Value
        var watchers: [UUID: AsyncStream<Value>.Continuation] = [:]
        var finished = false
    }

    private let state: Mutex<State>

    public init(_ value: Value) {
        state = Mutex(State(value: value))
    }

    public var value: Value { state.withLock { $0.value } }

    /// Ends every watch after the value now: the one changing it has stopped.
    public func finish() {
        state.withLock { state in
            state.finished = true
            for continuation in state.watchers.values { continuation.finish() }
        }
    }

    public func set(_ value: Value) {
        state.withLock { state in
            state.value = value
            for continuation in state.watchers.values { continuation.yield(value) }
        }
    }

    /// Calls `update` with the value now and after every change, until cancelled.
    public func watch(_ update: @escaping @Sendable (Value) -> Void) async throws {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: Value.self, bufferingPolicy: .bufferingNewest(1))
        let current = state.withLock { state in
            if state.finished { continuation.finish() } else { state.watchers[id] = continuation }
            return state.value
        }
        defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        update(current)
        for await value in stream {
            try Task.checkCancellation()
            update(value)
        }
        try Task.checkCancellation()
    }
}
