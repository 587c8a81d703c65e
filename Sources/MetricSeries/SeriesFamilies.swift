import Synchronization

/// Prometheus series with labels that come and go (one set per scale target), kept apart from
/// swift-prometheus' registry and written in the text exposition format.
///
/// Why not the registry: it copies a metric family's whole label-set table for each new label set,
/// so registering 10,000 targets' series took half a minute (`make bench-kubernetes`), and it cannot
/// forget a target's series. Here a new series is one dictionary insert, and `forget` drops every
/// series with a label value.
public final class SeriesFamilies: Sendable {
    public enum Kind: String, Sendable {
        case gauge, counter, histogram
    }

    private struct Family {
        var help: String
        var kind: Kind
        var buckets: [Double]
        /// By the label set as written (`{target="a",code="200"}`), in insertion order for stable output.
        var series: [String: any SeriesValue] = [:]
        var order: [String] = []
    }

    private let families = Mutex<(byName: [String: Family], order: [String])>(([:], []))

    public init() {}

    /// The gauge `name` with `labels`, made on first use.
    public func gauge(_ name: String, help: String, labels: [(String, String)]) -> SeriesGauge {
        series(name, help: help, kind: .gauge, buckets: [], labels: labels) { SeriesGauge() }
    }

    public func counter(_ name: String, help: String, labels: [(String, String)]) -> SeriesCounter {
        series(name, help: help, kind: .counter, buckets: [], labels: labels) { SeriesCounter() }
    }

    /// A histogram with these upper bounds (the `+Inf` bucket is added).
    public func histogram(_ name: String, help: String, labels: [(String, String)], buckets: [Double]) -> SeriesHistogram {
        series(name, help: help, kind: .histogram, buckets: buckets, labels: labels) { SeriesHistogram(buckets: buckets) }
    }

    private func series<Value: SeriesValue>(_ name: String, help: String, kind: Kind, buckets: [Double], labels: [(String, String)],
                                            make: () -> Value) -> Value {
        let key = Self.labelText(labels)
        return families.withLock { families in
            if families.byName[name] == nil {
                families.byName[name] = Family(help: help, kind: kind, buckets: buckets)
                families.order.append(name)
            }
            precondition(families.byName[name]!.kind == kind, "\(name) is a \(families.byName[name]!.kind), not a \(kind)")
            if let existing = families.byName[name]!.series[key] as? Value { return existing }
            let value = make()
            families.byName[name]!.series[key] = value
            families.byName[name]!.order.append(key)
            return value
        }
    }

    /// Drops every series that has label `label` with value `value` (a target that is gone).
    public func forget(label: String, value: String) {
        forget(label: label, values: [value])
    }

    /// Drops every series whose label `label` has one of `values`, in one pass over all series: a
    /// namespace of 10,000 targets deleted at once costs one pass, not 10,000.
    public func forget(label: String, values: Set<String>) {
        guard !values.isEmpty else { return }
        families.withLock { families in
            for name in families.order {
                // Taken out and put back, so the table is changed in place, not copied.
                guard var family = families.byName.removeValue(forKey: name) else { continue }
                let gone = family.order.filter { key in Self.value(of: label, in: key).map(values.contains) ?? false }
                for key in gone { family.series[key] = nil }
                if !gone.isEmpty { family.order.removeAll { family.series[$0] == nil } }
                families.byName[name] = family
            }
        }
    }

    /// The value of `label` in a label set as written (`{a="x",b="y"}`), unescaped; nil without it.
    static func value(of label: String, in labels: String) -> String? {
        let characters = Array(labels)
        let name = Array(label)
        var index = 0
        while index < characters.count {
            // A label name starts after `{` or `,`.
            if characters[index] == "{" || characters[index] == "," {
                let start = index + 1
                let end = start + name.count
                if end + 1 < characters.count, Array(characters[start..<end]) == name, characters[end] == "=", characters[end + 1] == "\"" {
                    var value = ""
                    var position = end + 2
                    while position < characters.count, characters[position] != "\"" {
                        if characters[position] == "\\", position + 1 < characters.count {
                            position += 1
                            value.append(characters[position] == "n" ? "\n" : characters[position])
                        } else {
                            value.append(characters[position])
                        }
                        position += 1
                    }
                    return value
                }
            }
            index += 1
        }
        return nil
    }

    /// The text exposition of every series, family by family.
    public func emit(into output: inout String) {
        families.withLock { families in
            for name in families.order {
                let family = families.byName[name]!
                guard !family.order.isEmpty else { continue }
                output += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
                for key in family.order {
                    family.series[key]!.emit(name: name, labels: key, into: &output)
                }
            }
        }
    }

    /// `{a="x",b="y"}`, or nothing without labels.
    static func labelText(_ labels: [(String, String)]) -> String {
        labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Backslash, double quote and newline escaped, as the format requires in label values.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// A value as the format writes it: integers without a fraction, `+Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

protocol SeriesValue: AnyObject, Sendable {
    func emit(name: String, labels: String, into output: inout String)
}

// The per-request calls (`set`, `increment`, `record`) are inlinable: the activator calls them on
// every request, and a call across modules cost it 5 % of its CPU per request (make bench-activator).

public final class SeriesGauge: SeriesValue {
    @usableFromInline let bits = Atomic<UInt64>(0.0.bitPattern)
    init() {}
    @inlinable public func set(to value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }
    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
    func emit(name: String, labels: String, into output: inout String) {
        output += "\(name)\(labels) \(SeriesFamilies.format(value))\n"
    }
}

public final class SeriesCounter: SeriesValue {
    @usableFromInline let count = Atomic<UInt64>(0)
    init() {}
    @inlinable public func increment(by amount: UInt64 = 1) { count.add(amount, ordering: .relaxed) }
    public var value: UInt64 { count.load(ordering: .relaxed) }
    func emit(name: String, labels: String, into output: inout String) {
        output += "\(name)\(labels) \(value)\n"
    }
}

public final class SeriesHistogram: SeriesValue {
    @usableFromInline struct State: Sendable {
        /// Per bucket, not cumulative: a record touches one.
        @usableFromInline var counts: [UInt64]
        @usableFromInline var sum = 0.0
        @usableFromInline var count: UInt64 = 0
        init(counts: [UInt64]) { self.counts = counts }
    }
    @usableFromInline let buckets: [Double]
    @usableFromInline let state: Mutex<State>

    init(buckets: [Double]) {
        self.buckets = buckets.sorted()
        state = Mutex(State(counts: Array(repeating: 0, count: buckets.count)))
    }

    @inlinable public func record(_ value: Double) {
        var index = 0
        while index < buckets.count, value > buckets[index] { index += 1 }
        state.withLock { state in
            if index < state.counts.count { state.counts[index] += 1 }
            state.sum += value
            state.count += 1
        }
    }

    func emit(name: String, labels: String, into output: inout String) {
        let state = state.withLock { $0 }
        // `le` joins the series' own labels.
        let open = labels.isEmpty ? "{" : String(labels.dropLast()) + ","
        var cumulative: UInt64 = 0
        for (bound, count) in zip(buckets, state.counts) {
            cumulative += count
            output += "\(name)_bucket\(open)le=\"\(SeriesFamilies.format(bound))\"} \(cumulative)\n"
        }
        output += "\(name)_bucket\(open)le=\"+Inf\"} \(state.count)\n"
        output += "\(name)_sum\(labels) \(SeriesFamilies.format(state.sum))\n"
        output += "\(name)_count\(labels) \(state.count)\n"
    }
}
