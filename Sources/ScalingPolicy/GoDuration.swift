import Autoscaling

/// Durations written the way Kubernetes users write them (`60s`, `1m30s`, `500ms`, `1h`), parsed
/// and printed with Go's `time.ParseDuration` / `Duration.String()` rules so values and error
/// messages look exactly like what users see from Knative.
public enum GoDuration {
    private static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Parses a Go duration string; nil when it is not one or does not fit in 64-bit nanoseconds.
    ///
    /// Digits are read exactly, like Go does: a fraction finer than a nanosecond is dropped, not
    /// rounded, so "5.9999999999s" stays below 6 seconds.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix(while: isDigit)
            rest = rest.dropFirst(whole.count)
            var fraction = Substring()
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix(while: isDigit)
                rest = rest.dropFirst(fraction.count)
            }
            guard !(whole.isEmpty && fraction.isEmpty) else { return nil }
            let unitText = rest.prefix { !isDigit($0) && $0 != "." }
            guard let unit = units.first(where: { $0.0 == unitText })?.1 else { return nil }
            rest = rest.dropFirst(unitText.count)
            guard let value = Int64(whole.isEmpty ? "0" : whole) else { return nil }
            var (part, overflow) = value.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            var scale: Int64 = 1
            var fractional: Int64 = 0
            for digit in fraction where scale < unit {
                fractional = fractional * 10 + Int64(digit.wholeNumberValue!)
                scale *= 10
            }
            part += fractional * (unit / scale)
            (total, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
        }
        return .nanoseconds(negative ? -total : total)
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
