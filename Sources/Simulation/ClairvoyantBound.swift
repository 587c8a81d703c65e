/// The bound no online policy can beat: it knows every request in advance, runs exactly enough
/// ready replicas each second for the requests in flight then, starts each replica one load time
/// before it is needed, and across an idle gap keeps a replica when that costs less than starting
/// it again (a gap shorter than the load time). No request waits.
public enum ClairvoyantBound {
    public struct Result: Sendable, Equatable {
        public var replicaSeconds: Double
        public var starts: Int
        /// Replicas that exist each second (ready and loading), for the plot.
        public var perSecond: [Int]
    }

    /// Replicas needed each second: the most requests in flight at any moment of it, over `slots`.
    public static func needed(_ log: RequestLog, slots: Int, seconds: Int) -> [Int] {
        var events: [(time: Double, delta: Int)] = []
        events.reserveCapacity(log.requests.count * 2)
        for request in log.requests {
            events.append((request.arrival, 1))
            events.append((request.arrival + request.service, -1))
        }
        // Ends before starts at the same instant: a slot freed is a slot to reuse.
        events.sort { $0.time < $1.time || ($0.time == $1.time && $0.delta < $1.delta) }
        var peak = [Int](repeating: 0, count: seconds)
        var inFlight = 0
        var index = 0
        for second in 0..<seconds {
            // What ends or starts right at the second's start counts before its most is taken.
            while index < events.count, events[index].time <= Double(second) {
                inFlight += events[index].delta
                index += 1
            }
            var most = inFlight
            while index < events.count, events[index].time < Double(second + 1) {
                inFlight += events[index].delta
                most = max(most, inFlight)
                index += 1
            }
            peak[second] = (most + slots - 1) / max(1, slots)
        }
        return peak
    }

    public static func run(_ log: RequestLog, slots: Int, loadTime: Double, initialReplicas: Int, minReplicas: Int, seconds: Int) -> Result {
        let need = needed(log, slots: slots, seconds: seconds).map { max($0, minReplicas) }
        let levels = need.max() ?? 0
        var perSecond = [Double](repeating: 0, count: seconds)
        var result = Result(replicaSeconds: 0, starts: 0, perSecond: [])
        let load = Int(loadTime.rounded(.up))
        for level in stride(from: 1, through: levels, by: 1) {
            var lastNeeded: Int? = level <= initialReplicas ? -1 : nil
            for second in 0..<seconds where need[second] >= level {
                if let last = lastNeeded {
                    let gap = second - last - 1
                    if gap <= load {
                        for s in (last + 1)..<second where s >= 0 { perSecond[s] += 1 }
                    } else {
                        result.starts += 1
                        for s in max(0, second - load)..<second { perSecond[s] += 1 }
                    }
                } else {
                    result.starts += 1
                    for s in max(0, second - load)..<second { perSecond[s] += 1 }
                }
                perSecond[second] += 1
                lastNeeded = second
            }
        }
        result.perSecond = perSecond.map { Int($0) }
        result.replicaSeconds = perSecond.reduce(0, +)
        return result
    }
}
