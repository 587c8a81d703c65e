/// Requests one service received, each with when it arrived and how long it held a replica's slot:
/// the input of a request-level `thaw simulate --replay`.
///
/// CSV with a header naming an `arrival` column (or `timestamp`: seconds, fractions allowed) and a
/// `service` column (or `duration`: seconds the request holds a slot, its prefill plus decode on an
/// LLM). Other columns are ignored, so a public trace can be read as it is; rows may come in any
/// order, and arrivals are shifted so the earliest is at 0 (absolute Unix times work too).
public struct RequestLog: Sendable, Equatable {
    public struct Request: Sendable, Equatable {
        public var arrival: Double
        public var service: Double

        public init(arrival: Double, service: Double) {
            self.arrival = arrival
            self.service = service
        }
    }

    /// Requests in arrival order, the first at or after 0.
    public private(set) var requests: [Request]

    /// The most requests a log may hold: memory stays bounded (about 16 bytes a request).
    public static let limit = 10_000_000
    /// The longest trace, in seconds (about 11.5 days), so per-second arrays stay bounded.
    public static let longest = 1_000_000.0

    public init(requests: [Request]) {
        let start = requests.map(\.arrival).min() ?? 0
        self.requests = requests.map { Request(arrival: $0.arrival - start, service: $0.service) }
            .sorted { $0.arrival < $1.arrival }
    }

    /// Whether a CSV header names a request log rather than per-second demand.
    public static func looksLikeRequestLog(header: String) -> Bool {
        let names = header.split(separator: ",").map { $0.trimmingSpaces().lowercased() }
        return names.contains { arrivalNames.contains($0) }
    }

    static let arrivalNames = ["arrival", "timestamp"]
    static let serviceNames = ["service", "duration"]

    public init(contentsOf path: String) throws {
        try self.init(csv: try readText(path, what: "the request log"), file: path)
    }

    public init(csv: String, file: String = "requests.csv") throws {
        var header: (line: Int, names: [String])?
        var requests: [Request] = []
        var arrivalColumn = 0, serviceColumn = 0
        for (index, raw) in csv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if text.allSatisfy({ $0 == " " }) || text.hasPrefix("#") { continue }
            let cells = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
            guard let columns = header else {
                let names = cells.map { $0.lowercased() }
                guard let a = names.firstIndex(where: { Self.arrivalNames.contains($0) }),
                      let s = names.firstIndex(where: { Self.serviceNames.contains($0) }) else {
                    throw SimulationError(file: file, line: index + 1,
                                          "a request log's header needs an arrival (or timestamp) column and a service (or duration) column, in seconds; got \"\(text.prefix(120))\"")
                }
                arrivalColumn = a
                serviceColumn = s
                header = (index + 1, names)
                continue
            }
            guard cells.count == columns.names.count else {
                throw SimulationError(file: file, line: index + 1, "expected \(columns.names.count) columns like the header, got \(cells.count)")
            }
            guard let arrival = Double(cells[arrivalColumn]), arrival.isFinite, arrival >= 0 else {
                throw SimulationError(file: file, line: index + 1,
                                      "\(columns.names[arrivalColumn]) must be a number of seconds, at least 0, got \"\(cells[arrivalColumn])\"")
            }
            guard let service = Double(cells[serviceColumn]), service.isFinite, service >= 0, service <= 86_400 else {
                throw SimulationError(file: file, line: index + 1,
                                      "\(columns.names[serviceColumn]) must be seconds from 0 to 86400, got \"\(cells[serviceColumn])\"")
            }
            guard requests.count < Self.limit else {
                throw SimulationError(file: file, line: index + 1, "holds more than \(Self.limit) requests; replay a shorter part")
            }
            requests.append(Request(arrival: arrival, service: service))
        }
        guard header != nil else {
            throw SimulationError(file: file, "is empty; expected a header such as \"arrival,service\" and one row per request")
        }
        guard !requests.isEmpty else { throw SimulationError(file: file, "has a header but no requests") }
        self.init(requests: requests)
        if let last = self.requests.last, last.arrival > Self.longest {
            throw SimulationError(file: file, "spans \(Int(last.arrival)) seconds; at most \(Int(Self.longest)) can be replayed")
        }
    }

    /// Requests that make up per-second demand: each second's requests spread evenly over it, each
    /// holding a slot for `latency` seconds (Little's law turns concurrency into arrivals).
    public init(demand: DemandTrace, latency: Double) {
        var requests: [Request] = []
        var carried = 0.0
        for (second, value) in demand.perSecond.enumerated() {
            let perSecond = demand.signal == .rps ? value : value / latency
            carried += perSecond
            let count = Int(carried.rounded(.down))
            carried -= Double(count)
            for i in 0..<count {
                requests.append(Request(arrival: Double(second) + Double(i) / Double(count), service: latency))
            }
        }
        self.init(requests: requests)
    }

    /// Seconds from the first arrival to the last request's end.
    public var span: Double {
        requests.reduce(0) { max($0, $1.arrival + $1.service) }
    }

    /// The CSV form, as `init(csv:)` reads it.
    public var csv: String {
        var text = "arrival,service\n"
        text.reserveCapacity(requests.count * 16)
        for request in requests {
            text += JSONLine.format((request.arrival * 1000).rounded() / 1000) + "," + JSONLine.format((request.service * 1000).rounded() / 1000) + "\n"
        }
        return text
    }
}

extension Substring {
    func trimmingSpaces() -> String { String(self).trimmed(of: " \t") }
}
