#if canImport(Glibc)
import Glibc
#endif

/// When to hand freed heap memory back to the system after a wave of connections has gone.
///
/// glibc's allocator keeps what a burst freed in its per-thread arenas, so an activator that held
/// 10,000 waiting requests for a minute would keep their memory (about 60 MB) for good. The
/// arenas are trimmed once a wave is over: the open connections peaked at `minimumPeak` or more
/// and have fallen to a quarter of that peak; and once more at the next look, since closed
/// connections are freed a little after they stop counting. Pure; the activator feeds it the
/// connection count every few seconds and trims when it says so.
struct HeapTrimSchedule: Sendable {
    static let minimumPeak = 1_000
    private(set) var peak = 0
    private var settling = false

    /// Whether to trim now, given the connections open now.
    mutating func observe(open: Int) -> Bool {
        peak = max(peak, open)
        if peak >= Self.minimumPeak, open <= peak / 4 {
            peak = open
            settling = true
            return true
        }
        defer { settling = false }
        return settling
    }

    /// Returns free heap memory to the system (glibc's `malloc_trim`, looked up at run time since
    /// the Glibc module does not export `malloc.h`); a no-op where it is absent.
    static func trim() {
        mallocTrim?(0)
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32
    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()
}
