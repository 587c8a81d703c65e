/// Per-second demand for one service, read from a CSV file: the input of `thaw simulate --replay`.
///
/// The header names the signal: a value column called `rps` (requests per second) or
/// `concurrency` (requests in flight), optionally preceded by a time column (`t`, `second` or
/// `time`, whole seconds, increasing). Seconds missing between rows have no demand.
public struct DemandTrace: Sendable, Equatable {
    public enum Signal: String, Sendable { case rps, concurrency }

    public var signal: Signal
    /// Demand at second i.
    public var perSecond: [Double]

    public init(signal: Signal, perSecond: [Double]) {
        self.signal = signal
        self.perSecond = perSecond
    }

    public init(contentsOf path: String) throws {
        try self.init(csv: try readText(path, what: "the demand curve"), file: path)
    }

    public init(csv: String, file: String = "trace.csv") throws {
        var rows: [(line: Int, cells: [String])] = []
        for (index, raw) in csv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if text.allSatisfy({ $0 == " " }) || text.hasPrefix("#") { continue }
            rows.append((index + 1, text.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmed(of: " \t") }))
        }
        guard let header = rows.first else {
            throw SimulationError(file: file, "is empty; expected a header such as \"t,rps\" and one row per second")
        }
        let timeNames = ["t", "second", "time"]
        let hasTime: Bool
        switch header.cells.count {
        case 1: hasTime = false
        case 2:
            guard timeNames.contains(header.cells[0].lowercased()) else {
                throw SimulationError(file: file, line: header.line,
                                      "the first of two columns must be the time (t, second or time), got \"\(header.cells[0])\"")
            }
            hasTime = true
        default:
            throw SimulationError(file: file, line: header.line,
                                  "expected a header of one or two columns such as \"t,rps\" or \"concurrency\", got \(header.cells.count) columns")
        }
        guard let signal = Signal(rawValue: header.cells.last!.lowercased()) else {
            throw SimulationError(file: file, line: header.line,
                                  "the value column must be named rps or concurrency, got \"\(header.cells.last!)\"")
        }
        self.signal = signal
        perSecond = []
        for row in rows.dropFirst() {
            guard row.cells.count == header.cells.count else {
                throw SimulationError(file: file, line: row.line, "expected \(header.cells.count) columns like the header, got \(row.cells.count)")
            }
            guard let value = Double(row.cells.last!), value.isFinite, value >= 0 else {
                throw SimulationError(file: file, line: row.line, "\(signal.rawValue) must be a number of at least 0, got \"\(row.cells.last!)\"")
            }
            if hasTime {
                guard let second = Int(row.cells[0]), second >= perSecond.count, second < 1_000_000 else {
                    throw SimulationError(file: file, line: row.line,
                                          "time must be a whole number of seconds greater than the previous row's, got \"\(row.cells[0])\"")
                }
                perSecond += Array(repeating: 0, count: second - perSecond.count)
            }
            perSecond.append(value)
        }
        guard !perSecond.isEmpty else { throw SimulationError(file: file, "has a header but no rows") }
    }
}

extension String {
    func trimmed(of set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
