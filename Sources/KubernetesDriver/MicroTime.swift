import Foundation

/// Kubernetes' MicroTime: RFC 3339 in UTC with fractional seconds, as an Event's `eventTime` and a
/// Lease's `acquireTime` and `renewTime` carry it.
enum MicroTime {
    static func string(from date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
