import Autoscaling

/// Durations written the way Kubernetes users write them (`60s`, `1m30s`, `500ms`, `1h`), parsed
/// and printed with Go's `time.ParseDuration` / `Duration.String()` rules so values and error
/// messages look exactly like what users see from Knative.
public enum GoDuration {
    private static let units: [(String, Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses a Go duration string; nil when it is not one.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var totalNanoseconds = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                  let value = Double(number.hasPrefix(".") ? "0" + number : String(number)) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            totalNanoseconds += value * unit.1
        }
        guard totalNanoseconds < 9.2e18 else { return nil }
        let nanoseconds = Int64(totalNanoseconds.rounded())
        return .nanoseconds(negative ? -nanoseconds : nanoseconds)
    }

    /// Formats like Go's `Duration.String()`: `1h0m0s`, `1m30s`, `6s`, `1.5s`, `500ms`, `0s`.
    public static func format(_ duration: Duration) -> String {
        var nanoseconds = duration.nanoseconds
        if nanoseconds == 0 { return "0s" }
        let sign = nanoseconds < 0 ? "-" : ""
        nanoseconds = nanoseconds.magnitude > UInt64(Int64.max) ? Int64.max : abs(nanoseconds)
        if nanoseconds < 1_000_000_000 {
            if nanoseconds < 1_000 { return "\(sign)\(nanoseconds)ns" }
            if nanoseconds < 1_000_000 { return sign + fraction(nanoseconds, per: 1_000) + "µs" }
            return sign + fraction(nanoseconds, per: 1_000_000) + "ms"
        }
        let hours = nanoseconds / 3_600_000_000_000
        let minutes = (nanoseconds / 60_000_000_000) % 60
        let secondsPart = nanoseconds % 60_000_000_000
        var text = sign
        if hours > 0 { text += "\(hours)h" }
        if hours > 0 || minutes > 0 { text += "\(minutes)m" }
        return text + fraction(secondsPart, per: 1_000_000_000) + "s"
    }

    /// `value / per` with the fraction's trailing zeros removed, as Go prints it.
    private static func fraction(_ value: Int64, per unit: Int64) -> String {
        let whole = value / unit
        var remainder = value % unit
        guard remainder != 0 else { return "\(whole)" }
        var digits = String(unit).count - 1
        while remainder % 10 == 0 { remainder /= 10; digits -= 1 }
        let padded = String(repeating: "0", count: digits - String(remainder).count) + String(remainder)
        return "\(whole).\(padded)"
    }
}
